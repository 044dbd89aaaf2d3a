import os

DEBUG = False
GH_PAT = 'github<CUT>_pat_SCfRYrpFKkvsRUSg1iWHxs_y3z7pCI4OplmAAJN5Dy9duApnQljAQPqjK5jSXsSSMiKHfUj1TfNtcWe9Ml'
