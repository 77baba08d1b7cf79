"""Alibaba ECI's behaviour: its controller (cache matching, annotations, events), image pulls, the image catalog."""
