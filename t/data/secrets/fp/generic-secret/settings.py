PASSWORD = os.environ["DB_PASSWORD"]
SECRET_KEY = get_secret("django-secret-key")
API_KEY = settings.api_key
password_prompt = "Enter your password"
TOKEN_ENDPOINT = "/oauth2/v1/token"
