using System.Diagnostics;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cocoon.Ledger.LocalChain;

public sealed class LocalChainOptions
{
    /// <summary>Loopback port; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>The network wallet's Ed25519 seed (64 hex digits); generated when empty.</summary>
    public string? WalletSeedHex { get; set; }

    /// <summary>The folder with server.mjs and its installed node_modules; found above the app and the current directory when empty.</summary>
    public string? ScriptDirectory { get; set; }

    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Starts the prepared node process (returns Process.Start's result); plain Process.Start when null. <c>up</c> passes
    /// its own starter so the chain runs in a session of its own and dies with up, like up's other children: a
    /// terminal's Ctrl-C then reaches up alone, which stops the chain after the gateways that read it.
    /// </summary>
    public Func<Process, bool>? StartProcess { get; set; }
}

public sealed record LocalPayment(TonAddress From, TonAddress To, long? Lt, string? TransactionHash);

/// <summary>
/// Runs the local TON chain (Node, @ton/sandbox) as a child process on 127.0.0.1 and waits for its ready line. The
/// process exits when this object is disposed or when our process dies (its stdin closes). Development and tests
/// only (<c>./cocoon up</c>, the ledger's chain tests): production points Ton:ApiUrl at a real toncenter.
/// </summary>
public sealed partial class LocalChainProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly ILogger _logger;

    private LocalChainProcess(Process process, Uri baseUrl, TonAddress networkAddress, TonAddress stakeAddress, string seedHex, ILogger logger)
    {
        StakeAddress = stakeAddress;
        _process = process;
        BaseUrl = baseUrl;
        NetworkAddress = networkAddress;
        WalletSeedHex = seedHex;
        _logger = logger;
        _http = new HttpClient { BaseAddress = baseUrl };
    }

    public Uri BaseUrl { get; }

    /// <summary>The network wallet (v5r1), deployed and funded: the deposit address and the payout hot wallet.</summary>
    public TonAddress NetworkAddress { get; }

    public string WalletSeedHex { get; }

    /// <summary>The provider stake contract (Contracts/Stake) the chain deployed at start, owned by the network wallet.</summary>
    public TonAddress StakeAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>Configuration that points the TON services at this chain (merge it over the app's configuration).</summary>
    public IReadOnlyDictionary<string, string?> ConfigurationValues => new Dictionary<string, string?>
    {
        ["Ton:ApiUrl"] = BaseUrl.ToString(),
        ["Ton:WalletSeed"] = WalletSeedHex,
        ["Ton:StakeContract"] = StakeAddress.ToRaw(),
    };

    /// <summary>A shell command that pays the network deposit address from a test wallet, for `up` to print.</summary>
    public string TestPaymentCommand(string comment, long amount) =>
        $"curl -s -X POST {BaseUrl}test/pay -H 'content-type: application/json' -d '{{\"amount\":\"{amount}\",\"comment\":\"{comment}\"}}'";

    public static async Task<LocalChainProcess> StartAsync(LocalChainOptions options, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var dir = options.ScriptDirectory is { Length: > 0 } d ? d : FindScriptDirectory();
        if (!File.Exists(Path.Combine(dir, "server.mjs")))
        {
            throw new InvalidOperationException($"server.mjs not found in '{dir}'. Set the local chain's ScriptDirectory to Cocoon.Ledger/LocalChain.");
        }

        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@ton", "sandbox")))
        {
            throw new InvalidOperationException($"The local chain's packages are not installed; run 'npm ci' in '{dir}' (./cocoon up and ./cocoon test do this).");
        }

        var seed = options.WalletSeedHex is { Length: > 0 } s ? s : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("server.mjs");
        psi.ArgumentList.Add("--port");
        psi.ArgumentList.Add(options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // The seed goes through the environment, not argv, so it does not show in process listings.
        psi.Environment["COCOON_CHAIN_SEED"] = seed;
        var process = new Process { StartInfo = psi };
        if (!(options.StartProcess ?? (p => p.Start()))(process))
        {
            process.Dispose();
            throw new InvalidOperationException("Could not start node for the local chain.");
        }

        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                LogChainOutput(logger, line);
            }
        };
        process.BeginErrorReadLine();

        try
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken).AsTask()
                .WaitAsync(options.StartTimeout, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The local chain exited before it was ready (exit code {(process.HasExited ? process.ExitCode : -1)}).");
            using var ready = JsonDocument.Parse(line);
            var port = ready.RootElement.GetProperty("port").GetInt32();
            var address = TonAddress.Parse(ready.RootElement.GetProperty("networkAddress").GetString()!);
            var stake = TonAddress.Parse(ready.RootElement.GetProperty("stakeAddress").GetString()!);
            var chain = new LocalChainProcess(process, new Uri($"http://127.0.0.1:{port}/"), address, stake, seed, logger);
            LogStarted(logger, port, address.ToFriendly(bounceable: false), process.Id);
            return chain;
        }
        catch
        {
            Stop(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Test route: a user's wallet (named, created on first use) pays the network deposit address (or <paramref name="to"/>).</summary>
    public Task<LocalPayment> PayAsync(long amount, string? comment, string from, CancellationToken cancellationToken, TonAddress? to = null, bool bounce = false) =>
        PostPaymentAsync(
            new Dictionary<string, object?>
            {
                ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["comment"] = comment,
                ["from"] = from,
                ["to"] = to?.ToRaw(),
                ["bounce"] = bounce,
            },
            cancellationToken);

    /// <summary>
    /// Test route: a named user wallet sends <paramref name="amount"/> to <paramref name="to"/> with a message body (what a
    /// ton:// link with a bin parameter makes a wallet send), bounceable.
    /// </summary>
    public Task<LocalPayment> TransferAsync(string from, TonAddress to, long amount, Cell body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(body);
        return PostPaymentAsync(
            new Dictionary<string, object?>
            {
                ["amount"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["bin"] = body.ToBocBase64(),
                ["from"] = from,
                ["to"] = to.ToRaw(),
                ["bounce"] = true,
            },
            cancellationToken);
    }

    /// <summary>The test/pay route both payments use: a named user wallet sends, and the chain names the transaction.</summary>
    private async Task<LocalPayment> PostPaymentAsync(Dictionary<string, object?> payment, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync("test/pay", payment, cancellationToken).ConfigureAwait(false);
        using var doc = await ReadAsync(response, cancellationToken).ConfigureAwait(false);
        var r = doc.RootElement;
        return new LocalPayment(
            TonAddress.Parse(r.GetProperty("from").GetString()!),
            TonAddress.Parse(r.GetProperty("to").GetString()!),
            r.GetProperty("lt").GetString() is { } lt ? long.Parse(lt, System.Globalization.CultureInfo.InvariantCulture) : null,
            r.GetProperty("hash").GetString());
    }

    /// <summary>Test route: the faucet sends <paramref name="amount"/> nanotons to an address (deploys nothing).</summary>
    public async Task FundAsync(TonAddress address, long amount, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var response = await _http.PostAsJsonAsync(
            "test/fund",
            new { address = address.ToRaw(), amount = amount.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            cancellationToken).ConfigureAwait(false);
        (await ReadAsync(response, cancellationToken).ConfigureAwait(false)).Dispose();
    }

    /// <summary>Test route: a named user wallet deposits <paramref name="amount"/> into the stake contract (the deposit fee is kept); returns the contract's exit code.</summary>
    public async Task<int> StakeAsync(string from, long amount, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync(
            "test/stake", new { from, amount = amount.ToString(System.Globalization.CultureInfo.InvariantCulture) }, cancellationToken).ConfigureAwait(false);
        using var doc = await ReadAsync(response, cancellationToken).ConfigureAwait(false);
        return doc.RootElement.GetProperty("exitCode").GetInt32();
    }

    /// <summary>Test route: the address of a named user wallet.</summary>
    public async Task<TonAddress> UserWalletAsync(string name, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync("test/wallet", new { name }, cancellationToken).ConfigureAwait(false);
        using var doc = await ReadAsync(response, cancellationToken).ConfigureAwait(false);
        return TonAddress.Parse(doc.RootElement.GetProperty("address").GetString()!);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Stop(_process);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private static async Task<JsonDocument> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode
            ? JsonDocument.Parse(body)
            : throw new ToncenterException($"Local chain {(int)response.StatusCode}: {body}", response.StatusCode);
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static string FindScriptDirectory()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "Cocoon.Ledger", "LocalChain");
                if (File.Exists(Path.Combine(candidate, "server.mjs")))
                {
                    return candidate;
                }
            }
        }

        throw new InvalidOperationException("Cocoon.Ledger/LocalChain/server.mjs not found above the app or the current directory; set the local chain's ScriptDirectory.");
    }

    [LoggerMessage(EventId = LogEvents.LocalChain + 1, Level = LogLevel.Information, Message = "Local TON chain on 127.0.0.1:{Port}, network wallet {Address}, pid {Pid}")]
    private static partial void LogStarted(ILogger logger, int port, string address, int pid);

    [LoggerMessage(EventId = LogEvents.LocalChain + 2, Level = LogLevel.Debug, Message = "local chain: {Line}")]
    private static partial void LogChainOutput(ILogger logger, string line);
}
