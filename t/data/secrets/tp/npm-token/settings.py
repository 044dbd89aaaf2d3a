import os

DEBUG = False
NPM_TOKEN = 'np<CUT>m_8swam7ZmArQOVO4Ntgk7npjAM6RWCFvBadbG'
