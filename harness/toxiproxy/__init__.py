"""An embedded, in-process server speaking Toxiproxy's HTTP API (see ``server.EmbeddedToxiproxy``)."""
