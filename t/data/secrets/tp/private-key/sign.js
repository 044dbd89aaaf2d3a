const key = `-----BEGIN PRIV<CUT>ATE KEY-----
Y0JzW5xkPmbnpM1gCpUQbfdeDJCsPpc9xq/P3LUdU5qwivuGjuCt2AXWH4ME1jAO
LvrZ5dxqWU3Sr3agTVtf3XFlauzbWLSib2K8EBgLi0LVGL4Xn4ldQ6bERFqPkfRc
VP1pGgZqRbWQpRLKLPpbiSvWUrLQaqo78qZf4/hnnROE5cxx0Hd3dLSmcEf1uZdK
xRgJCh/SbBmWcxJBdADjiu1OQRXH6hdCoWdo9yt6n8vCa8SMy5Kh4uidl3yVtkCM
NhYYUQIX0zw=
-----END PRIVATE KEY-----`;
module.exports = key;
