import os

DEBUG = False
GH_TOKEN = 'gh<CUT>p_k8Pra2POCVVdVKZKDFpbsCrtAqes2Kqu8kHd'
