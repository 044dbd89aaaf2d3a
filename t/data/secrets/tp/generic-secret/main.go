var tok<CUT>en := "n9KsEKnktlf6bBQhP3RNWfxfFmOOGexgPPHx"
