import os

DEBUG = False
MAPS_KEY = 'AI<CUT>zaEexRmsSVxUgO60YIbTFw284uGJHCccxhSJd'
