using Cocoon.Engine.Attestation;
using Cocoon.Network.Access;
using Cocoon.Network.Hosting;
using Cocoon.Network.Transport;
using Cocoon.Worker.Attestation;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// `Cocoon.Worker join` (what `./cocoon worker` runs): attest, join the network through the gateway with the provider's
/// worker token (COCOON_WORKER_TOKEN) at COCOON_JOIN_URL, then serve with the Redis user the gateway made for this
/// worker. Refusals are printed with what to do; temporary ones (paused) are retried, final ones exit with code 3.
/// </summary>
public static class JoinCommand
{
    public const int Refused = 3;

    public static Task<int> RunAsync(string[] args) => RunAsync(args, (services, configuration) => services.AddLlamaInference(configuration));

    public static async Task<int> RunAsync(string[] args, Action<IServiceCollection, IConfiguration> addInference)
    {
        ArgumentNullException.ThrowIfNull(addInference);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, DisableDefaults = false });
        builder.Configuration.AddCocoonEnvironment();
        builder.Configuration.AddCommandLine(args);
        var configuration = builder.Configuration;
        var options = configuration.GetSection(WorkerHostOptions.Section).Get<WorkerHostOptions>() ?? new WorkerHostOptions();
        if (string.IsNullOrWhiteSpace(options.Token) || !Uri.TryCreate(options.JoinUrl, UriKind.Absolute, out var joinUrl))
        {
            Console.Error.WriteLine("cocoon: error: joining the network needs COCOON_WORKER_TOKEN (from the bot's /provider register) and COCOON_JOIN_URL (the URL it printed).");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        var ct = stop.Token;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var client = new JoinClient(http, joinUrl, options.Token);

        // What the join document claims is known before the model loads: its file hash (cached in the data folder, so
        // the loader does not hash it again), its name, the build's measurement and the TEE. The keys made here are the
        // ones the worker serves with: the gateway pins them.
        var dataDir = CocoonEnvironment.DataDir(configuration);
        var modelPath = ModelLocator.Resolve(configuration["Worker:Model"], Environment.CurrentDirectory);
        var claims = new WorkerClaims(
            WorkerSession.ProviderClaim(options.Token),
            Path.GetFileNameWithoutExtension(modelPath),
            await ModelIdentity.Sha256Async(modelPath, dataDir, ct).ConfigureAwait(false),
            Measurement.ForCurrentProcess(configuration["Llama:LibraryDir"]),
            HardwareDetection.Detect(),
            options.Region,
            options.PriceCoefficient,
            Math.Max(1, options.MaxConcurrency));
        var tee = WorkerHostingExtensions.CreateTee(options.Tee, configuration);
        // The provider's own key, when this machine holds it, certifies the worker's signing key for the gateway.
        var providerKeyPath = ProviderKeyFile.PathFor(configuration);
        ProviderKey? providerKey = null;
        if (File.Exists(providerKeyPath))
        {
            try
            {
                providerKey = ProviderKeyFile.Read(providerKeyPath);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine("cocoon: error: " + e.Message);
                return 2;
            }
        }
        else if (ProviderKeyFile.Named(configuration))
        {
            Console.Error.WriteLine($"cocoon: error: COCOON_PROVIDER_KEY names {providerKeyPath}, which does not exist; make it with ./cocoon provider keygen --key {providerKeyPath}");
            return 2;
        }

        using var providerKeyScope = providerKey;
        var identity = WorkerIdentity.Create(options.Id is { Length: > 0 } id ? id : WorkerSession.NewWorkerId());
        JoinGrant grant;
        while (true)
        {
            var bundle = await identity.AttestAsync(claims, tee, TimeProvider.System, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
            var certificate = providerKey?.Certify(identity.WorkerId, identity.SigningPublicKey, claims.ModelSha256, DateTimeOffset.UtcNow + options.CertificateLifetime);
            if (certificate is not null)
            {
                Console.Error.WriteLine($"cocoon: worker key certified by provider key {certificate.ProviderKey[..16]}… ({providerKeyPath}) until {DateTimeOffset.FromUnixTimeSeconds(certificate.ExpiresAt):u}");
            }

            var (granted, refusal) = await client.JoinAsync(bundle.ToJson(), certificate?.ToJson(), ct).ConfigureAwait(false);
            if (granted is not null)
            {
                grant = granted;
                break;
            }

            PrintRefusal(refusal!);
            if (!refusal!.Temporary)
            {
                identity.Dispose();
                return Refused;
            }

            Console.Error.WriteLine("cocoon: trying again in 30 s (Ctrl-C to stop)");
            await Task.Delay(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        }

        Console.Error.WriteLine($"cocoon: joined the network as worker {grant.WorkerId} of provider {grant.ProviderId}; Redis {grant.Redis.Endpoint} as {grant.Redis.User}{(grant.Redis.Tls ? " (TLS)" : " (no TLS)")}");
        // With TLS the worker trusts the CA the join answer pins, and only that CA: it is written to the data folder
        // (owner-only) for the Redis client to load.
        string? caFile = null;
        if (grant.Redis.Tls && grant.Redis.CaCertificate is { Length: > 0 } caPem)
        {
            caFile = Path.Combine(dataDir, "redis-ca.pem");
            await File.WriteAllTextAsync(caFile, caPem, ct).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(caFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        var (hostPort, _) = RedisConnection.StripScheme(grant.Redis.Endpoint);
        configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Redis:Endpoint"] = $"{(grant.Redis.Tls ? RedisConnection.TlsScheme : string.Empty)}{hostPort},user={grant.Redis.User},password={grant.Redis.Password},tiebreaker=,configChannel=",
            ["Redis:TlsCaFile"] = caFile,
            ["Redis:Prefix"] = grant.Redis.Prefix,
            ["Worker:Id"] = grant.WorkerId,
        });

        var exitCode = 0;
        IHost? host = null;
        var joined = new JoinedWorker(identity, grant, async token =>
        {
            // Redis refused us: ask the gateway why, print it, and stop for good unless it is temporary.
            JoinStatus? status;
            try
            {
                status = await client.StatusAsync(grant.WorkerId, token).ConfigureAwait(false);
            }
            catch (HttpRequestException)
            {
                return;
            }

            if (status?.Refusal is { } refusal)
            {
                PrintRefusal(refusal);
                if (!refusal.Temporary)
                {
                    exitCode = Refused;
                    host?.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
                }
            }
        });
        builder.Services.AddSingleton(joined);
        addInference(builder.Services, configuration);
        builder.Services.AddWorkerHost(configuration);
        using (host = builder.Build())
        {
            await host.RunAsync(ct).ConfigureAwait(false);
        }

        try
        {
            using var leave = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.LeaveAsync(grant.WorkerId, leave.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            // The gateway cleans up after a worker that left without saying so.
        }

        return exitCode;
    }

    private static void PrintRefusal(JoinRefusal refusal)
    {
        Console.Error.WriteLine($"cocoon: the network refused this worker: {refusal.Reason} ({refusal.Detail})");
        Console.Error.WriteLine($"cocoon: what to do: {refusal.WhatToDo}");
    }
}
