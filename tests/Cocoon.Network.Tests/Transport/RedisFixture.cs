using Cocoon.Network.Transport;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Network.Tests.Transport;

/// <summary>One real redis-server per test class; each test takes its own key prefix so tests run in parallel.</summary>
public sealed class RedisFixture : IDisposable
{
    public RedisServer Server { get; } = new();

    public ConnectionMultiplexer Connection { get; }

    /// <summary>The second connection, for blocking reads, as a host has.</summary>
    public BlockingReads Blocking { get; }

    public RedisFixture()
    {
        Connection = Server.Connect();
        Blocking = new BlockingReads(Server.Connect());
    }

    public (RedisKeys Keys, BlockingReads Blocking) Scope()
    {
        var keys = new RedisKeys("t" + Guid.NewGuid().ToString("N")[..12] + ":");
        return (keys, Blocking);
    }

    public void Dispose()
    {
        Blocking.Dispose();
        Connection.Dispose();
        Server.Dispose();
    }
}
