const token = req.headers.authorization.split(' ')[1];
const claims = jwt.verify(token, process.env.JWT_SECRET);
