using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Join;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.Telegram;
using Cocoon.Bot.Telegram.Providers;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Cocoon.Testing;
using Cocoon.Worker.Attestation;
using Cocoon.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Bot.Tests.Join;

/// <summary>
/// Providers sign their workers' keys, on a Redis with ACLs on. The bot's instruction is run as printed: the
/// `./cocoon provider keygen` line starts the Cocoon.Worker binary (owner-only key file), the `/provider key` line it
/// prints is sent to the bot as is, and workers started as separate processes join with a certificate or are refused
/// by name; replacing the key stops the worker certified by the old one. The join client over HTTP shows every refusal.
/// </summary>
public sealed class ProviderKeyTests
{
    private const long Owner = 7301;
    private const string Model = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public async Task The_printed_keygen_and_key_commands_certify_workers_a_keyless_one_is_refused_and_a_replaced_key_stops_its_worker()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = cts.Token;
        using var workerData = new TempDir("cocoon-pkey-worker");
        using var keylessData = new TempDir("cocoon-pkey-keyless");
        await using var api = new FakeBotApi();
        await using var network = JoinGateway.Start("pkey", [JoinGateway.PlatformOf(workerData.Path), JoinGateway.PlatformOf(keylessData.Path)], JoinGateway.Bot(api));
        var gateway = network.Gateway;

        var chat = new ProviderChat(api, Owner);
        var registered = await chat.RegisterAsync("RTX 3090", new TonAddress(0, new byte[32]).ToFriendly());
        var (_, variables) = ProviderInstruction.Parse(registered);

        // The keygen line, run as printed (the script's `provider` runs the worker binary's `provider`), in the worker's folder.
        var keygen = ProviderInstruction.Lines(registered).Single(l => l.Contains("provider keygen", StringComparison.Ordinal));
        var keyLine = await RunAsync(variables, workerData.Path, Words(keygen), ct);
        var keyFile = Path.Combine(workerData.Path, ProviderKeyFile.DefaultName);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }

        var publicKey = keyLine["/provider key ".Length..];
        Assert.True(ProviderDirectory.IsProviderKey(publicKey), keyLine);

        // Run again it keeps the key (a second keygen must not silently retire the first).
        Assert.Equal(keyLine, await RunAsync(variables, workerData.Path, Words(keygen), ct));

        // The line it printed, pasted into the bot as is.
        var keyReply = await chat.SayAsync(keyLine, t => t.Contains("registered. Every worker now needs a certificate", StringComparison.Ordinal));
        Assert.Contains(ProviderWorkerControl.KeyPrefix(publicKey), keyReply, StringComparison.Ordinal);

        // A worker without the key is refused by name, with what to do, and exits 3.
        using (var keyless = WorkerProcess.Start(variables, keylessData.Path, "w-keyless"))
        {
            await keyless.Process.WaitForExitAsync(ct);
            Assert.Equal(3, keyless.Process.ExitCode);
            Assert.Contains("the network refused this worker: certificate-missing", keyless.Output, StringComparison.Ordinal);
            Assert.Contains("./cocoon provider keygen", keyless.Output, StringComparison.Ordinal);
        }

        // The worker started where the key is certifies itself and serves.
        var directory = gateway.Services.GetRequiredService<WorkerDirectory>();
        using var worker = WorkerProcess.Start(variables, workerData.Path, "w-keyed");
        await WaitEligibleAsync(directory, worker, "w-keyed", ct);
        Assert.Contains($"certified by provider key {publicKey[..16]}", worker.Output, StringComparison.Ordinal);

        var status = await chat.SayAsync("/provider status", t => t.Contains("w-keyed: online", StringComparison.Ordinal));
        Assert.Contains($"Provider key: {ProviderWorkerControl.KeyPrefix(publicKey)}", status, StringComparison.Ordinal);
        Assert.Contains("refused: certificate-missing", status, StringComparison.Ordinal);

        // The provider replaces its key: keygen --rotate, the new line to the bot; the running worker, certified by
        // the old key, loses its Redis user, hears why and exits 3.
        var rotated = await RunAsync(variables, workerData.Path, [.. Words(keygen), "--rotate"], ct);
        Assert.NotEqual(keyLine, rotated);
        var rotateReply = await chat.SayAsync(rotated, t => t.Contains("is revoked", StringComparison.Ordinal));
        Assert.Contains($"The old key {ProviderWorkerControl.KeyPrefix(publicKey)} is revoked", rotateReply, StringComparison.Ordinal);
        await worker.Process.WaitForExitAsync(ct);
        Assert.Equal(3, worker.Process.ExitCode);
        Assert.Contains("the network refused this worker: provider-key-revoked", worker.Output, StringComparison.Ordinal);
        await directory.RefreshAsync(ct);
        Assert.DoesNotContain(directory.Eligible, w => w.Document.WorkerId == "w-keyed");

        // Restarted there, it signs with the new key and serves again.
        using var restarted = WorkerProcess.Start(variables, workerData.Path, "w-keyed-2");
        await WaitEligibleAsync(directory, restarted, "w-keyed-2", ct);
        status = await chat.SayAsync("/provider status", t => t.Contains("w-keyed-2: online", StringComparison.Ordinal));
        Assert.Contains("w-keyed: revoked", status, StringComparison.Ordinal);
        Assert.Contains("refused: provider-key-revoked", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_join_refuses_a_missing_forged_other_workers_expired_and_revoked_key_certificate_by_name_and_cuts_off_an_expired_one()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = cts.Token;
        using var teeDir = new TempDir("cocoon-cert-tee");
        using var tee = SimulatedTeeProvider.LoadOrCreate(teeDir.Path);
        await using var network = JoinGateway.Start("cert", [Convert.ToHexStringLower(tee.PlatformPublicKey)]);
        var (gateway, redis) = (network.Gateway, network.Redis);
        var joinUrl = new Uri(network.JoinUrl);
        var providers = gateway.Services.GetRequiredService<ProviderDirectory>();
        var control = gateway.Services.GetRequiredService<ProviderWorkerControl>();
        var joins = gateway.Services.GetRequiredService<WorkerJoins>();
        var registration = await providers.RegisterAsync(new ProviderProfile("keyed provider", Owner), ct);
        using var http = new HttpClient();
        var client = new JoinClient(http, joinUrl, registration.WorkerToken);
        using var providerKey = ProviderKey.Create();
        using var stranger = ProviderKey.Create();
        using var replacement = ProviderKey.Create();

        async Task<(JoinGrant? Grant, JoinRefusal? Refusal)> JoinAsync(WorkerIdentity identity, WorkerCertificate? certificate)
        {
            var claims = new WorkerClaims(ProviderDirectory.HashToken(registration.WorkerToken), "model", Model, new string('a', 64),
                new HardwareInfo("Test CPU", null, 8L << 30, 8), "eu", 1000, 2);
            var bundle = await identity.AttestAsync(claims, tee, TimeProvider.System, TimeSpan.FromMinutes(10), ct);
            return await client.JoinAsync(bundle.ToJson(), certificate?.ToJson(), ct);
        }

        var later = DateTimeOffset.UtcNow.AddDays(1);

        // A provider without a registered key: a worker that brings a certificate is told to register the key.
        using (var early = WorkerIdentity.Create("w-early"))
        {
            var (_, refusal) = await JoinAsync(early, providerKey.Certify("w-early", early.SigningPublicKey, Model, later));
            Assert.True(refusal!.Reason == JoinRefusals.ProviderKeyUnregistered, $"{refusal.Reason}: {refusal.Detail}");
            Assert.Contains("/provider key", refusal.WhatToDo, StringComparison.Ordinal);
        }

        await control.SetProviderKeyAsync(registration.ProviderId, providerKey.PublicKeyHex, ct);
        using var worker = WorkerIdentity.Create("w-cert");
        using var other = WorkerIdentity.Create("w-other");

        Assert.Equal(JoinRefusals.CertificateMissing, (await JoinAsync(worker, null)).Refusal!.Reason);
        Assert.Equal(JoinRefusals.CertificateForged, (await JoinAsync(worker, stranger.Certify("w-cert", worker.SigningPublicKey, Model, later))).Refusal!.Reason);
        var tampered = providerKey.Certify("w-cert", worker.SigningPublicKey, Model, DateTimeOffset.UtcNow.AddMinutes(-1)) with { ExpiresAt = later.ToUnixTimeSeconds() };
        Assert.Equal(JoinRefusals.CertificateForged, (await JoinAsync(worker, tampered)).Refusal!.Reason);
        Assert.Equal(JoinRefusals.CertificateForged, (await JoinAsync(worker, providerKey.Certify("w-cert", other.SigningPublicKey, Model, later))).Refusal!.Reason);
        var expired = await JoinAsync(worker, providerKey.Certify("w-cert", worker.SigningPublicKey, Model, DateTimeOffset.UtcNow.AddMinutes(-1)));
        Assert.Equal(JoinRefusals.CertificateExpired, expired.Refusal!.Reason);
        Assert.Contains("Restart the worker", expired.Refusal.WhatToDo, StringComparison.Ordinal);

        // Genuine: granted, and the join record names the certifying key.
        var (grant, _) = await JoinAsync(worker, providerKey.Certify("w-cert", worker.SigningPublicKey, Model, later));
        Assert.NotNull(grant);
        Assert.Equal(providerKey.PublicKeyHex, (await joins.GetAsync("w-cert", ct))!.CertificateKey);

        // The key is replaced: the worker certified by the old one is cut off (its Redis user is gone) and hears why;
        // a join with an old-key certificate is refused as signed by a revoked key.
        await control.SetProviderKeyAsync(registration.ProviderId, replacement.PublicKeyHex, ct);
        var status = await client.StatusAsync("w-cert", ct);
        Assert.Equal(JoinStates.Revoked, status!.State);
        Assert.Equal(JoinRefusals.ProviderKeyRevoked, status.Refusal!.Reason);
        Assert.ThrowsAny<StackExchange.Redis.RedisException>(() =>
        {
            using var connection = redis.ConnectAs(grant.Redis.User, grant.Redis.Password);
            connection.GetDatabase().Ping();
        });
        Assert.Equal(JoinRefusals.ProviderKeyRevoked, (await JoinAsync(other, providerKey.Certify("w-other", other.SigningPublicKey, Model, later))).Refusal!.Reason);

        using (var forger = WorkerIdentity.Create("w-forged"))
        {
            Assert.Equal(JoinRefusals.CertificateForged, (await JoinAsync(forger, stranger.Certify("w-forged", forger.SigningPublicKey, Model, later))).Refusal!.Reason);
        }

        // /provider status says it in words.
        var provider = await providers.GetAsync(registration.ProviderId, ct);
        var text = ProviderStatus.Format(await gateway.Services.GetRequiredService<ProviderStatus>().BuildAsync(provider!, ct));
        Assert.Contains($"Provider key: {ProviderWorkerControl.KeyPrefix(replacement.PublicKeyHex)}", text, StringComparison.Ordinal);
        Assert.Contains("w-cert: revoked", text, StringComparison.Ordinal);
        Assert.Contains("refused: provider-key-revoked", text, StringComparison.Ordinal);
        Assert.Contains("w-forged: refused", text, StringComparison.Ordinal);
        Assert.Contains("refused: certificate-forged", text, StringComparison.Ordinal);

        // A certificate that expires while the worker serves: the sweep cuts it off.
        using var brief = WorkerIdentity.Create("w-brief");
        var expires = DateTimeOffset.UtcNow.AddSeconds(15);
        Assert.NotNull((await JoinAsync(brief, replacement.Certify("w-brief", brief.SigningPublicKey, Model, expires))).Grant);
        var sweeper = gateway.Services.GetServices<IHostedService>().OfType<JoinSweeper>().Single();
        while (DateTimeOffset.UtcNow.ToUnixTimeSeconds() < expires.ToUnixTimeSeconds())
        {
            await Task.Delay(100, ct);
        }

        await sweeper.SweepAsync(ct);
        var swept = await client.StatusAsync("w-brief", ct);
        Assert.Equal(JoinStates.Revoked, swept!.State);
        Assert.Equal(JoinRefusals.CertificateExpired, swept.Refusal!.Reason);
    }

    private static string[] Words(string line) => line[(line.IndexOf("./cocoon ", StringComparison.Ordinal) + "./cocoon ".Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Runs the worker binary with args, waits for exit 0, and returns the /provider key line it printed.</summary>
    private static async Task<string> RunAsync(IReadOnlyDictionary<string, string> variables, string dataDir, IReadOnlyList<string> args, CancellationToken ct)
    {
        using var process = WorkerProcess.Start(variables, dataDir, "unused", args);
        await process.Process.WaitForExitAsync(ct);
        Assert.True(process.Process.ExitCode == 0, process.Output);
        return process.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("/provider key ", StringComparison.Ordinal));
    }

    private static async Task WaitEligibleAsync(WorkerDirectory directory, WorkerProcess worker, string workerId, CancellationToken ct)
    {
        while (!directory.Eligible.Any(w => w.Document.WorkerId == workerId))
        {
            Assert.False(worker.Process.HasExited, "the worker exited: " + worker.Output);
            await Task.Delay(100, ct);
        }
    }
}
