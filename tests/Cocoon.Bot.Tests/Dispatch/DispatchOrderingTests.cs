using Cocoon.Ledger.Accounts;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// The path to the first token runs the ledger hold, the lease script and the sealing side by side. What must still
/// hold whichever finishes first: no job leaves the gateway before its hold succeeds, a hold that fails gives back the
/// lease it overlapped, and a lease that is refused gives back the hold.
/// </summary>
public sealed class DispatchOrderingTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    [Fact]
    public async Task A_hold_that_fails_while_the_lease_is_claimed_leaves_no_lease_and_sends_no_job()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var (_, session) = await stack.StartWorkerAsync(_ct);
        // One nanoton cannot cover any answer's worst case: the hold is refused.
        var payer = await stack.FundedPayerAsync(1, _ct);

        await Assert.ThrowsAsync<InsufficientFundsException>(() => AskAsync(stack, DispatchNetwork.Request(payer, "Once upon a time", 16)));

        var db = stack.Connection.GetDatabase();
        Assert.Equal(0, await db.SortedSetLengthAsync(stack.Keys.Leases(session.WorkerId)));
        Assert.Equal("0-0", (string?)(await db.StreamInfoAsync(stack.Keys.Jobs(session.WorkerId))).LastGeneratedId);
        var account = await ((ILedgerAccounts)stack.Ledger).GetAccountAsync(payer, _ct);
        Assert.Equal(0, account.Held);
        Assert.Equal(1, account.Available);
    }

    [Fact]
    public async Task A_lease_that_is_refused_releases_the_hold_and_sends_no_job()
    {
        // No queue: a request that finds no free slot is refused at once.
        await using var stack = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:QueueWait"] = "00:00:00" });
        await stack.StartAsync(_ct);
        var (_, session) = await stack.StartWorkerAsync(_ct);
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);

        // Other gateways hold every slot of the worker: its heartbeat still says it is idle, so the matcher picks it
        // (and the hold starts) while the lease script refuses the claim.
        var db = stack.Connection.GetDatabase();
        var until = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds();
        for (var i = 0; i < session.MaxConcurrency; i++)
        {
            await db.SortedSetAddAsync(stack.Keys.Leases(session.WorkerId), "elsewhere/" + i, until);
        }

        await Assert.ThrowsAsync<WorkersBusyException>(() => AskAsync(stack, DispatchNetwork.Request(payer, "Once upon a time", 16)));

        Assert.Equal(session.MaxConcurrency, await db.SortedSetLengthAsync(stack.Keys.Leases(session.WorkerId)));
        Assert.Equal("0-0", (string?)(await db.StreamInfoAsync(stack.Keys.Jobs(session.WorkerId))).LastGeneratedId);
        var account = await ((ILedgerAccounts)stack.Ledger).GetAccountAsync(payer, _ct);
        Assert.Equal(0, account.Held);
        Assert.Equal(1_000_000_000, account.Available);

        // Once a slot is free the same payer is served and billed once.
        await db.SortedSetRemoveAsync(stack.Keys.Leases(session.WorkerId), "elsewhere/0");
        var (text, receipt) = await stack.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 8), _ct);
        Assert.NotEmpty(text);
        account = await ((ILedgerAccounts)stack.Ledger).GetAccountAsync(payer, _ct);
        Assert.Equal(0, account.Held);
        Assert.Equal(1_000_000_000 - receipt.TotalCostNanotons, account.Available);
    }

    [Fact]
    public async Task Work_that_fails_while_a_lease_is_in_flight_gives_the_lease_back()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var (_, session) = await stack.StartWorkerAsync(_ct);
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);
        var choice = stack.Gateway.Services.GetRequiredService<WorkerChoice>();
        var request = DispatchNetwork.Request(payer, "Once upon a time", 8);
        var model = choice.ResolveModel(request.Model);
        var seen = new List<string>();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => choice.ClaimAsync(request, model, 0, [], DateTimeOffset.UtcNow.AddMinutes(1), _ct, worker =>
        {
            seen.Add(worker.Document.WorkerId);
            throw new InvalidOperationException("sealing failed");
        }));

        Assert.Equal("sealing failed", e.Message);
        Assert.Equal([session.WorkerId], seen);
        Assert.Equal(0, await stack.Connection.GetDatabase().SortedSetLengthAsync(stack.Keys.Leases(session.WorkerId)));

        // A claim whose work succeeds holds its lease until released.
        var claimed = await choice.ClaimAsync(request, model, 0, [], DateTimeOffset.UtcNow.AddMinutes(1), _ct, worker => seen.Add(worker.Document.WorkerId));
        Assert.Equal([session.WorkerId, session.WorkerId], seen);
        Assert.Equal(1, await stack.Connection.GetDatabase().SortedSetLengthAsync(stack.Keys.Leases(session.WorkerId)));
        await choice.ReleaseAsync(claimed);
        Assert.Equal(0, await stack.Connection.GetDatabase().SortedSetLengthAsync(stack.Keys.Leases(session.WorkerId)));
    }

    private async Task AskAsync(DispatchNetwork stack, DispatchRequest request)
    {
        await foreach (var e in stack.Dispatcher.DispatchAsync(request, _ct))
        {
            GC.KeepAlive(e);
        }
    }
}
