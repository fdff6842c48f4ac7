"""cloudmesh-azure: the Microsoft Azure provider of cms (kind ``azure``)."""
