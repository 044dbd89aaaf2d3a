// tokens look like glpat-<20 characters>
const prefix = 'glpat-';
