"""cloudmesh-oracle: the Oracle Cloud Infrastructure Compute provider of cms (kind ``oracle``)."""
