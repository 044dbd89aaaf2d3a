import os

DEBUG = False
SLACK_WEBHOOK_URL = 'https://hooks.sl<CUT>ack.com/services/TU3PXVECY/B3M7SV7I6/Ug4UxCa4DNWyT3HOlmHMLAA1'
