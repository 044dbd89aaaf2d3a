SEC<CUT>RET_KEY = '5x-J#JYOqTc+qu8CfQ+BWZqjmn33jNnI7eWiuHfl'
DATABASES = {'default': {'PASS<CUT>WORD': "ARIE6_M5Z5i2GmuTbnuW#q77"}}
