"""Pages of the content app: the public site (``public``) and the editors' pages (``staff``)."""
