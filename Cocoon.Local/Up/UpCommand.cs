using Cocoon.Ledger.LocalChain;
using Cocoon.Local.Processes;
using Cocoon.Network.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Cocoon.Local.Up;

/// <summary>
/// <c>./cocoon up</c>: the whole local stack under one process. Starts redis-server when nothing answers at
/// COCOON_REDIS, the local TON chain, then the gateways and workers (the programs given by --gateway and --worker;
/// one of each unless --gateways N or --workers M), each as a child process whose output is relayed with a prefix;
/// waits until every gateway's /healthz says a worker is attested. From then on a gateway, worker or the Redis up
/// started that exits is started again with a backoff (Redis with the same data folder and AOF). Ctrl-C or SIGTERM
/// stops everything, in order, so nothing is left behind. The network wallet's seed and the bot's host key go to the gateways only, never a worker.
/// </summary>
internal static class UpCommand
{
    private static (string Name, Func<ValueTask> Stop) Step(SupervisedProcess process) => (process.Name, process.DisposeAsync);

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var output = Console.Out;
        IConfigurationRoot configuration;
        try
        {
            configuration = new ConfigurationBuilder()
                .AddCocoonEnvironment()
                .AddCommandLine(args, UpSettings.SwitchMappings)
                .Build();
        }
        catch (FormatException ex)
        {
            // A short switch such as -h: the command-line provider refuses it; say so instead of a stack trace.
            await Console.Error.WriteLineAsync($"cocoon up: {ex.Message} (usage: ./cocoon up [--gateways N] [--workers M])");
            return 2;
        }

        // Validate every setting first (nothing is written), then create the data folder and the key.
        UpSettings settings;
        string apiKey;
        bool apiKeyGenerated;
        try
        {
            settings = UpSettings.From(configuration);
            (apiKey, apiKeyGenerated) = LocalDataFolder.Prepare(settings);
        }
        catch (UpSettingsException ex)
        {
            await Console.Error.WriteLineAsync("cocoon up: invalid setting: " + ex.Message);
            return 2;
        }

        SupervisedProcess? redis = null;
        var gateways = new List<SupervisedProcess>();
        var workers = new List<SupervisedProcess>();
        LocalChainProcess? chain = null;
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        try
        {
            (var redisNote, redis) = await LocalRedis.EnsureAsync(settings, output, cancellationToken);
            var gatewayOnly = new Dictionary<string, string?>();
            var childEnvironment = new Dictionary<string, string?>
            {
                ["COCOON_DATA"] = settings.DataDir,
                ["COCOON_REDIS"] = settings.RedisEndpoint,
                ["COCOON_HTTP"] = settings.Url,
                ["COCOON_API_KEY"] = apiKey,
                ["ASPNETCORE_URLS"] = null,
                // Local development policy: accept the local worker's measurement (a fresh build has one nobody
                // allow-listed) and workers without a provider token. The simulated platform key is added below.
                ["Gateway__AcceptAnySimulatedMeasurement"] = "true",
                ["Gateway__AllowLocalProvider"] = "true",
            };
            if (settings.TonProofDomain is { } proofDomain)
            {
                // Wallet login (ton_proof) names the Mini App's host; without one the gateway answers 503 for it.
                childEnvironment["Ton__Proof__AllowedDomains__0"] = proofDomain;
            }

            string chainNote;
            if (settings.ToncenterConfigured)
            {
                chainNote = $"TON:       {settings.TonApiUrl} (configured toncenter)";
            }
            else
            {
                try
                {
                    // The seed is kept under COCOON_DATA so the network's deposit address stays the same across runs.
                    var chainOptions = new LocalChainOptions
                    {
                        WalletSeedHex = await LocalDataFolder.LocalWalletSeedAsync(settings.DataDir, cancellationToken),
                        ScriptDirectory = settings.LocalChainDir,
                        // Like every child of up: its own session (Ctrl-C reaches up alone) and it dies with up.
                        StartProcess = ParentBound.StartInOwnSession,
                    };
                    chain = await LocalChainProcess.StartAsync(chainOptions, loggers.CreateLogger("Cocoon.Up.Chain"), cancellationToken);
                    // `verify` reads the anchors' transactions from this chain (its port changes every run).
                    await File.WriteAllTextAsync(Path.Combine(settings.DataDir, Verify.VerifyCommand.ChainUrlFile), chain.BaseUrl.ToString(), cancellationToken);
                    foreach (var (key, value) in chain.ConfigurationValues)
                    {
                        // The chain's URL and the network wallet's seed: a worker never needs either.
                        gatewayOnly[key.Replace(":", "__", StringComparison.Ordinal)] = value;
                    }

                    // The Mini App's "Verify this answer" reads anchors from this chain straight from the browser.
                    gatewayOnly["MiniApp__ChainApiUrl"] = chain.BaseUrl.ToString();

                    chainNote = $"TON:       local test chain at {chain.BaseUrl} (network wallet {chain.NetworkAddress.ToFriendly(bounceable: false)}); " +
                        $"a test payment: curl -X POST {chain.BaseUrl}test/pay -d '{{\"from\":\"alice\",\"amount\":\"1000000000\",\"comment\":\"INVOICE-COMMENT\"}}'";
                }
                catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception or IOException)
                {
                    // The API and the bot work without TON; only deposits and payouts need it.
                    chainNote = $"TON:       off: the local test chain did not start ({ex.Message}); set Ton:ApiUrl and Ton:ApiKey for a real toncenter";
                }
            }

            // Trust the simulated TEE key of this machine's worker: the worker says which key it is, so the gateway
            // never reads the worker's files.
            childEnvironment["Gateway__TrustedSimulatedPlatformKeys__0"] = await WorkerPlatformKey.AskAsync(settings.WorkerExe, childEnvironment, cancellationToken);
            childEnvironment["Gateway__AllowSimulated"] = "true"; // local development: the flag a real deployment leaves off

            // The gateways run in their own folder so its appsettings.json applies; the workers keep the current
            // folder, where their default model search (./models/*.gguf) looks.
            // One host key for the bot's stored conversations, the same for every gateway started here.
            gatewayOnly["Telegram__HostKey"] = await LocalDataFolder.LocalHostKeyAsync(settings.DataDir, cancellationToken);
            for (var i = 0; i < settings.Gateways; i++)
            {
                var gatewayEnvironment = new Dictionary<string, string?>(childEnvironment) { ["COCOON_HTTP"] = settings.GatewayUrl(i) };
                foreach (var (key, value) in gatewayOnly)
                {
                    gatewayEnvironment[key] = value;
                }

                var name = settings.Gateways == 1 ? "gateway" : $"gateway-{i + 1}";
                gateways.Add(new SupervisedProcess(name, () => ChildProcess.Start(name, settings.GatewayExe, [], gatewayEnvironment, output, Path.GetDirectoryName(settings.GatewayExe)), output));
                if (i == 0 && settings.Gateways > 1)
                {
                    // The first gateway creates and migrates the ledger before the others open it: two gateways that
                    // start on a fresh ledger.db together race (one opens the other's half-made file read-only and exits).
                    var running = (redis is null ? gateways : gateways.Append(redis)).Select(p => p.Current).ToList();
                    if (await StackReadiness.WaitListeningAsync(settings.GatewayUrl(0), running, cancellationToken) is { } problem)
                    {
                        await Console.Error.WriteLineAsync("cocoon up: " + problem);
                        return 1;
                    }
                }
            }

            var workerEnvironment = new Dictionary<string, string?>(childEnvironment)
            {
                // llama.cpp's model-loading chatter stays out of the terminal; warnings and errors still show.
                ["Logging__LogLevel__Cocoon.Worker.Native.LlamaCpp"] = "Warning",
            };
            for (var i = 0; i < settings.Workers; i++)
            {
                var name = settings.Workers == 1 ? "worker" : $"worker-{i + 1}";
                workers.Add(new SupervisedProcess(name, () => ChildProcess.Start(name, settings.WorkerExe, ["run"], workerEnvironment, output), output));
            }

            string? model = null;
            for (var i = 0; i < settings.Gateways; i++)
            {
                var running = (redis is null ? gateways.Concat(workers) : gateways.Concat(workers).Append(redis)).Select(p => p.Current).ToList();
                var (problem, served) = await StackReadiness.WaitAsync(settings.GatewayUrl(i), running, settings.Workers, cancellationToken);
                if (problem is not null)
                {
                    await Console.Error.WriteLineAsync("cocoon up: " + problem);
                    return 1;
                }

                model ??= served;
            }

            // Ready: from now on a gateway, worker or Redis that exits is started again.
            redis?.Supervise();
            foreach (var process in gateways.Concat(workers))
            {
                process.Supervise();
            }

            UpBanner.Print(output, settings, apiKey, apiKeyGenerated, redisNote, chainNote, model ?? "MODEL");
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (UpSettingsException ex)
        {
            await Console.Error.WriteLineAsync("cocoon up: " + ex.Message);
            return 1;
        }
        finally
        {
            var names = workers.Concat(gateways).Select(p => p.Name).ToList();
            if (chain is not null)
            {
                names.Add("TON chain");
            }

            if (redis is not null)
            {
                names.Add("redis");
            }

            if (names.Count > 0)
            {
                await output.WriteLineAsync("cocoon up: stopping " + string.Join(", ", names));
            }

            // Reverse start order: the workers finish first, then the gateways, the chain, and Redis (flushing its AOF)
            // last; a stop that fails is reported and the rest still run.
            await UpShutdown.RunAsync(
                [
                    workers.Select(Step),
                    gateways.Select(Step),
                    chain is null ? [] : [("TON chain", chain.DisposeAsync)],
                    redis is null ? [] : [Step(redis)],
                ],
                Console.Error);
        }
    }
}
