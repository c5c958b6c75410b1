"""Scaling recap past one machine: `recap_rs.distributed.ray` (fits over shard pairs of
`.npy` files, exact sharded search). The same pattern carries to Dask and Spark; see the
package README."""
