using System.Text;
using Cocoon.Bot.Tests.MiniApp;
using Cocoon.Bot.Tests.Privacy;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Sealed;

/// <summary>
/// The Mini App's browser-sealed chat in Debian's chromium (playwright-core) against the real gateway, Redis and a real
/// worker host whose answers never end (<see cref="EndlessInference"/>): the stop button stops the worker through the
/// cancel MAC the page computed (the gateway never held the key) and nothing is billed; the canary typed into the page
/// appears nowhere on the gateway side; and a worker whose attestation does not verify is refused with nothing sent.
/// </summary>
public sealed class MiniAppSealedBrowserTests(SealedStopFixture stack) : IClassFixture<SealedStopFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token;

    private async Task<(long UserId, string InitData)> FundedUserAsync(long nanotons)
    {
        var userId = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        await ledger.CreditAsync(AccountId.User(userId), nanotons, AccountId.StarsClearing, "sealed-browser-" + Guid.NewGuid(), CancellationToken.None);
        return (userId, await NodeInitDataSigner.SignAsync(MiniAppFixture.BotToken, userId, DateTimeOffset.UtcNow.AddMinutes(-1)));
    }

    [Fact]
    public async Task Stop_in_the_page_stops_the_worker_nothing_is_billed_and_the_canary_stays_out_of_the_gateway()
    {
        const long funds = 1_000_000_000;
        var (userId, initData) = await FundedUserAsync(funds);
        var canary = "canary" + Guid.NewGuid().ToString("N");
        var stopped = stack.Inference.NextStop();

        var result = await MiniAppBrowser.RunAsync("stop", stack.Gateway.BaseAddress, initData, $"Once upon a time {canary} met a little dog.");

        // The badge names what the page verified before sealing: the kind, measurement and model hash.
        Assert.Equal("verified", result["badgeState"]!.GetValue<string>());
        var badge = result["badge"]!.GetValue<string>();
        var session = await stack.Worker.Services.GetRequiredService<Cocoon.Worker.Hosting.WorkerHost>().Session;
        Assert.Contains("Sealed in this browser to a verified worker (simulated, measurement " + session.Bundle.Document.Measurement.ToLowerInvariant()[..12], badge, StringComparison.Ordinal);
        Assert.Contains("model " + session.Bundle.Document.ModelSha256.ToLowerInvariant()[..12], badge, StringComparison.Ordinal);
        Assert.Contains("tier simulated", badge, StringComparison.Ordinal);
        Assert.StartsWith("Once upon a time", result["streamed"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(result["sendVisibleAgain"]!.GetValue<bool>());
        Assert.Contains("Stopped.", result["answer"]!.GetValue<string>(), StringComparison.Ordinal);

        // The worker's endless answer ended because its job was cancelled with the MAC the page computed.
        await stopped.WaitAsync(_ct);
        var refusal = await stack.LogLineAsync(l => l.Contains("attempt 0 refused: cancelled", StringComparison.Ordinal) && l.Contains("sealed-", StringComparison.Ordinal), _ct);
        var requestId = refusal[refusal.IndexOf("sealed-", StringComparison.Ordinal)..].Split(' ')[0];
        Assert.DoesNotContain(stack.Logs.Lines, l => l.Contains(requestId, StringComparison.Ordinal) && l.Contains("ignored a cancel", StringComparison.Ordinal));
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        while (await ledger.GetBalanceAsync(AccountId.User(userId), _ct) != funds)
        {
            await Task.Delay(20, _ct); // the hold is released as the relay unwinds
        }

        // The canary in every encoding, nowhere the gateway writes: Redis (with its AOF), the data folder, logs at Trace, metrics.
        var needles = PrivacyScanner.Encodings(canary).ToList();
        var haystacks = new List<(string Where, byte[] Bytes)>();
        haystacks.AddRange(await PrivacyScanner.RedisContentsAsync(stack.Redis));
        haystacks.AddRange(PrivacyScanner.Files(stack.Data.Path));
        haystacks.AddRange(PrivacyScanner.Files(stack.Redis.DataDir));
        haystacks.Add(("logs", Encoding.UTF8.GetBytes(string.Join('\n', stack.Logs.Lines))));
        using (var anonymous = new HttpClient { BaseAddress = stack.Gateway.BaseAddress })
        {
            haystacks.Add(("/metrics", Encoding.UTF8.GetBytes(await anonymous.GetStringAsync("metrics", _ct))));
        }

        PrivacyScanner.AssertScannedAndClean(haystacks, needles, stack.Logs.Lines, requestId);
    }

    [Fact]
    public async Task A_worker_whose_attestation_does_not_verify_is_refused_on_the_badge_and_the_prompt_is_sent_nowhere()
    {
        const long funds = 1_000_000_000;
        var (userId, initData) = await FundedUserAsync(funds);
        var canary = "canary" + Guid.NewGuid().ToString("N");
        var started = stack.Inference.Started;

        var result = await MiniAppBrowser.RunAsync("tampered", stack.Gateway.BaseAddress, initData, $"Tell me about {canary}.");

        var refusals = result["refusals"]!.AsArray();
        Assert.Equal(3, refusals.Count);
        foreach (var r in refusals)
        {
            Assert.StartsWith("Refused worker ", r!["badge"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains("its attestation does not verify", r["badge"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains("Your message was not sent", r["detail"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains("Not sent", r["answer"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Contains("the worker's signature does not cover its document", refusals[0]!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("the reserved key is not the one in the worker's document", refusals[1]!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        // A genuine statement by the same worker, but over an earlier nonce: a replay, so not proof the worker is live.
        Assert.Contains("the worker's statement answers another nonce (a replay)", refusals[2]!["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        // Nothing went out: no sealed body, no gateway-sealed fallback, no job on the worker, nothing billed.
        Assert.Empty(result["sent"]!.AsArray());
        Assert.Equal(started, stack.Inference.Started);
        Assert.Equal(funds, await stack.Gateway.Services.GetRequiredService<ILedger>().GetBalanceAsync(AccountId.User(userId), _ct));
        var leaks = PrivacyScanner.Leaks([.. await PrivacyScanner.RedisContentsAsync(stack.Redis), ("logs", Encoding.UTF8.GetBytes(string.Join('\n', stack.Logs.Lines)))], [.. PrivacyScanner.Encodings(canary)]);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
    }
}
