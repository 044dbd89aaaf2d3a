import os

DEBUG = False
STRIPE_KEY = 'sk_l<CUT>ive_R6jDiPuCMG0BM36qp8GvJOU3'
