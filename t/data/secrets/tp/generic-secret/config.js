module.exports = {
  apiK<CUT>ey: 'La3dFTaGVFunW8OllRl5Iw6Cdh1I2IGp',
  auth: { pass<CUT>word: "jVu-1H9e=Sp3I0lp8hkyF+L1" },
};
const acc<CUT>essKey = `Y2ruoVE35HRPm5kgRHuiLtrA`;
