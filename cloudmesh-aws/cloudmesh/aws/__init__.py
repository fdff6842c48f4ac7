"""cloudmesh-aws: the Amazon EC2 provider of cms (kind ``aws``)."""
