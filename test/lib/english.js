// The tests read passimctl's and passimd's English whatever language the developer's session has: this
// process, and every program it starts, runs in C.UTF-8. A test of another language sets the variables
// for one run. Imported before anything that translates (the command-line tables translate on import).
for (const name of ['LANGUAGE', 'LC_ALL', 'LC_MESSAGES', 'LANG']) delete process.env[name];
process.env.LANG = 'C.UTF-8';
