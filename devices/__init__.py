"""Device knowledge: the catalog of device models, their codecs, and the registry of installed sensors."""
