"""Address geocoding: the gazetteer (地名地址库), address parsing and matching, single/reverse/batch."""
