using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// Whether this connection talks to a Redis Cluster. There a MULTI/EXEC or a script may touch only keys of one slot,
/// so the few steps that span a worker's keys and a gateway's (a job's last result and its acknowledgement, a dead
/// letter and its acknowledgement, a registry entry and the shared set of workers) run as separate steps, each
/// ordered so that a crash between them is the safe side (see the callers).
/// </summary>
public static class RedisTopology
{
    public static bool IsCluster(IConnectionMultiplexer redis)
    {
        ArgumentNullException.ThrowIfNull(redis);
        foreach (var server in redis.GetServers())
        {
            if (server.ServerType == ServerType.Cluster)
            {
                return true;
            }
        }

        return false;
    }
}
