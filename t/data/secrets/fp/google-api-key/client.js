const key = process.env.GOOGLE_MAPS_KEY;
