"""Reading layers: the access step shared by every output, the CQL2 filter and the SQL that serves features."""
