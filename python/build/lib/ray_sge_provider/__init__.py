"""Ray's own cluster launcher on Grid Engine, through ray-sge.

In the cluster YAML::

    provider:
      type: external
      module: ray_sge_provider.SGENodeProvider

then ``ray up``, ``ray down``, ``ray exec``, ``ray submit``, ``ray get-head-ip``, ``ray dashboard``
work as with any provider, with no SSH: each call becomes a ``ray-sge ... --json`` call.
"""

from .provider import SGENodeProvider

__version__ = "0.1.0"
__all__ = ["SGENodeProvider", "__version__"]
