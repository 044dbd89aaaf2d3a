const { AWS_ACCESS_KEY_ID } = process.env;
const lower = "akiaq3egt5nnb6zq7wxy";
