def never_parsed(key):
    return key +
