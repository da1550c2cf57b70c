using System.Security.Cryptography;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Network.Access;

/// <summary>The Redis user and password a joined worker connects with.</summary>
public sealed record WorkerCredentials(string User, string Password);

/// <summary>
/// One Redis ACL user per joined worker, made by the gateway's (administrative) connection: the worker may run only
/// the commands its job loop and heartbeat need, only on its own job stream, registry entry and lease key, may append
/// (never read) results and dead letters, and may listen only on its own cancel and challenge channels. Everything else — other
/// workers' streams, the gateway's result streams, FLUSHALL, CONFIG, KEYS, ACL — answers NOPERM.
/// <para>
/// ACL users are per server: on a Redis Cluster every change is made on every master (and replica) the connection
/// knows, so the worker may connect to whichever node holds its slots. A node added later needs the users copied (or
/// an ACL file shared by all nodes).
/// </para>
/// </summary>
public sealed class WorkerAccess(IConnectionMultiplexer redis, RedisKeys keys)
{
    /// <summary>Connection-level commands StackExchange.Redis sends while connecting and keeping the link alive (CLIENT SETINFO is
    /// left out: Redis 7.0 does not know it, and the client shrugs off its refusal).</summary>
    private static readonly string[] ConnectionCommands =
        ["+ping", "+echo", "+hello", "+auth", "+select", "+client|setname", "+client|id", "+multi", "+exec", "+discard"];

    /// <summary>The job loop (XREADGROUP, XAUTOCLAIM, XACK/XDEL, dead letters), results, heartbeat and leaving. No scripts.
    /// HMSET and UNLINK: INFO is refused, so the client does not know the server version and picks those forms.</summary>
    private static readonly string[] WorkerCommands =
    [
        "+xreadgroup", "+xack", "+xadd", "+xdel", "+xautoclaim", "+xpending", "+xgroup|create",
        "+hset", "+hmset", "+expire", "+pexpire", "+del", "+unlink", "+zcard", "+zrange",
        "+subscribe", "+unsubscribe",

        // On a Redis Cluster the client learns which node holds which slots (keyless, reveals only the topology).
        "+cluster|nodes", "+cluster|slots", "+cluster|shards",
    ];

    /// <summary>The ACL user name of a worker of this network (the key prefix keeps networks on one server apart).</summary>
    public string UserName(string workerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        return "cw:" + keys.Prefix + workerId;
    }

    /// <summary>ACL SETUSER rules after "reset": the worker's own keys and channel, and its commands.</summary>
    public IReadOnlyList<string> Rules(string workerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        return
        [
            "~" + (string)keys.Jobs(workerId)!,
            "~" + (string)keys.Worker(workerId)!,
            "%R~" + (string)keys.Leases(workerId)!,
            "%W~" + keys.Prefix + "results:*",
            "%W~" + (string)keys.DeadLetters!,
            "&" + keys.WorkerCancel(workerId),
            "&" + keys.WorkerChallenge(workerId),
            "-@all",
            .. ConnectionCommands,
            .. WorkerCommands,
        ];
    }

    /// <summary>Creates (or resets) the worker's user with a new random password; earlier passwords stop working.</summary>
    public async Task<WorkerCredentials> GrantAsync(string workerId, CancellationToken cancellationToken)
    {
        var user = UserName(workerId);
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        object[] args = ["SETUSER", user, "reset", "on", ">" + password, .. Rules(workerId)];
        await OnEveryNodeAsync(args, cancellationToken).ConfigureAwait(false);
        await SaveAsync(cancellationToken).ConfigureAwait(false);
        return new WorkerCredentials(user, password);
    }

    /// <summary>
    /// Turns the user off and closes its connections at once: a paused or revoked worker stops mid-loop. Deleting a
    /// user is what makes Redis close its connections (CLIENT KILL would need the client library's admin mode), so the
    /// user is deleted and made again, off, with the same password hash, ready for <see cref="EnableAsync"/>.
    /// </summary>
    public async Task DisableAsync(string workerId, CancellationToken cancellationToken)
    {
        var user = UserName(workerId);
        var details = await Db.ExecuteAsync("ACL", "GETUSER", user).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (details.IsNull)
        {
            return;
        }

        var fields = details.ToDictionary();
        var hashes = fields.TryGetValue("passwords", out var p) ? ((RedisResult[])p!).Select(h => "#" + (string)h!).ToArray() : [];
        object[] args = ["SETUSER", user, "reset", "off", .. hashes, .. Rules(workerId)];
        if (RedisTopology.IsCluster(redis))
        {
            // No MULTI across nodes: each node deletes and remakes it in turn (in between, the user is simply absent there).
            foreach (var server in Nodes())
            {
                await server.ExecuteAsync("ACL", "DELUSER", user).WaitAsync(cancellationToken).ConfigureAwait(false);
                await server.ExecuteAsync("ACL", args).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            var tx = Db.CreateTransaction();
            _ = tx.ExecuteAsync("ACL", "DELUSER", user);
            _ = tx.ExecuteAsync("ACL", args);
            await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        await SaveAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Turns a disabled user on again; the worker's client reconnects by itself with its password.</summary>
    public async Task EnableAsync(string workerId, CancellationToken cancellationToken)
    {
        var user = UserName(workerId);
        if (await ExistsAsync(user, cancellationToken).ConfigureAwait(false))
        {
            await OnEveryNodeAsync(["SETUSER", user, "on"], cancellationToken).ConfigureAwait(false);
            await SaveAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes the user (Redis closes its connections).</summary>
    public async Task DeleteAsync(string workerId, CancellationToken cancellationToken)
    {
        await OnEveryNodeAsync(["DELUSER", UserName(workerId)], cancellationToken).ConfigureAwait(false);
        await SaveAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> ExistsAsync(string user, CancellationToken cancellationToken)
    {
        var users = (RedisResult[])(await Db.ExecuteAsync("ACL", "USERS").WaitAsync(cancellationToken).ConfigureAwait(false))!;
        return users.Any(u => (string?)u == user);
    }

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Every node of a cluster the connection knows (masters and replicas), or none on a single server.</summary>
    private IServer[] Nodes() => [.. redis.GetServers().Where(s => s.IsConnected && s.ServerType == ServerType.Cluster)];

    /// <summary>ACL args on the one server, or on every node of a cluster (ACL users are per node).</summary>
    private async Task OnEveryNodeAsync(object[] args, CancellationToken cancellationToken)
    {
        if (!RedisTopology.IsCluster(redis))
        {
            await Db.ExecuteAsync("ACL", args).WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var server in Nodes())
        {
            await server.ExecuteAsync("ACL", args).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the users to the server's ACL file when it has one, so they survive a Redis restart.</summary>
    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            await OnEveryNodeAsync(["SAVE"], cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.Contains("ACL file", StringComparison.OrdinalIgnoreCase))
        {
            // Users configured in redis.conf or none at all: they live in memory until the server restarts.
        }
    }
}
