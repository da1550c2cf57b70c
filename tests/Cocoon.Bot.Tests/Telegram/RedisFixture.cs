using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>One real redis-server per test class (xunit needs a fixture with a single constructor).</summary>
public sealed class RedisFixture : IDisposable
{
    public RedisServer Server { get; } = new();

    public void Dispose() => Server.Dispose();
}
