using Cocoon.Engine.Transport;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Engine.Tests.Transport;

/// <summary>One real redis-server per test class; each test takes its own key prefix so tests run in parallel.</summary>
public sealed class RedisFixture : IDisposable
{
    public RedisServer Server { get; } = new();

    public ConnectionMultiplexer Connection { get; }

    public RedisFixture() => Connection = Server.Connect();

    public (RedisKeys Keys, StreamWakeups Wakeups) Scope()
    {
        var keys = new RedisKeys("t" + Guid.NewGuid().ToString("N")[..12] + ":");
        return (keys, new StreamWakeups(Connection));
    }

    public void Dispose()
    {
        Connection.Dispose();
        Server.Dispose();
    }
}
