const apiKey = process.env.API_KEY;
const password = req.body.password;
const token = await getToken({ audience: 'api' });
const secret = config.get('session.secret');
if (password !== confirmPassword) throw new Error('passwords differ');
