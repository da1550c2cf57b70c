using Cocoon.Ledger.LocalChain;
using Cocoon.Ledger.Tests.Ton;
using Cocoon.Ledger.Ton;

namespace Cocoon.Ledger.Tests.LocalChain;

/// <summary>One real local chain (Node + @ton/sandbox) per test class; killed at the end.</summary>
public sealed class LocalChainFixture : IAsyncLifetime
{
    private LocalChainProcess? _chain;

    public LocalChainProcess Chain => _chain ?? throw new InvalidOperationException("Not started.");

    public HttpClient Http { get; private set; } = null!;

    public ToncenterClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _chain = await LocalChainProcess.StartAsync(new LocalChainOptions { ScriptDirectory = NodeScripts.ChainDir }, null, CancellationToken.None);
        Http = new HttpClient { BaseAddress = _chain.BaseUrl };
        Client = new ToncenterClient(Http);
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_chain is not null)
        {
            await _chain.DisposeAsync();
        }
    }
}
