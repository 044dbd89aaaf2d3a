const isFineGrained = (t) => t.startsWith('github_pat_');
