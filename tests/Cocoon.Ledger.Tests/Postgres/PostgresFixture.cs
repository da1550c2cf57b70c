using Cocoon.Testing;

namespace Cocoon.Ledger.Tests.Postgres;

/// <summary>One throw-away PostgreSQL server (Cocoon.Testing's) per test class; each test makes its own database on it.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException(PostgresServer.Unavailable ?? "the server has not started");

    public async Task InitializeAsync()
    {
        if (PostgresServer.Unavailable is null)
        {
            _server = await PostgresServer.StartAsync(CancellationToken.None);
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>A test that needs PostgreSQL; skipped with the reason when it is not installed (and CI=true fails on skips).</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
