import os

DEBUG = False
GITLAB_TOKEN = 'gl<CUT>pat-M_gPbZiWU1f_0ufTIIUW'
