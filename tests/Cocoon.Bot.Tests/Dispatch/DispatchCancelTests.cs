using Cocoon.Bot.Billing;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Receipts;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>A caller that goes away (an HTTP client disconnecting) stops the worker's generation and frees its slot.</summary>
public sealed class DispatchCancelTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    [Fact]
    public async Task A_caller_that_goes_away_stops_the_workers_generation_and_frees_its_slot()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var endless = new EndlessInference("endless-test");
        var (worker, session) = await stack.StartWorkerAsync(_ct, inference: endless);
        const long funds = 1_000_000_000;
        var payer = await stack.FundedPayerAsync(funds, _ct);
        var request = DispatchNetwork.Request(payer, "Once upon a time", 4000, model: endless.Model.Name);

        await stack.DispatchAndLeaveAsync(request, async events =>
        {
            Assert.True(await events.MoveNextAsync());
            Assert.IsType<DispatchPiece>(events.Current);
        }, _ct);

        // Without a cancel the service would generate until the job's deadline: it stops only because it was told to.
        await endless.Stopped.WaitAsync(_ct);
        await DispatchNetwork.WaitForIdleAsync(worker, _ct);

        // The entry is acknowledged (never reclaimed and run again), and the caller is not charged.
        var pending = await stack.Connection.GetDatabase().StreamPendingAsync(stack.Keys.Jobs(session.WorkerId), RedisKeys.WorkerGroup);
        Assert.Equal(0, pending.PendingMessageCount);
        while (await stack.Ledger.GetBalanceAsync(payer, _ct) != funds)
        {
            await Task.Delay(20, _ct); // the hold is released as the dispatch unwinds
        }

        Assert.Contains(stack.Logs, l => l.Contains("refused: cancelled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_stopped_answer_is_billed_for_exactly_the_chunks_taken_from_the_workers_signed_receipt()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var stepped = new SteppedInference();
        var (_, session) = await stack.StartWorkerAsync(_ct, inference: stepped);
        const long funds = 1_000_000_000;
        var payer = await stack.FundedPayerAsync(funds, _ct);
        var request = DispatchNetwork.Request(payer, "Once upon a time", 64, model: stepped.Model.Name);

        await stack.DispatchAndLeaveAsync(request, async events =>
        {
            Assert.True(await events.MoveNextAsync());
            Assert.Equal("Once", Assert.IsType<DispatchPiece>(events.Current).Text);
            stepped.Next.Release(); // the second piece, then the worker waits again: two chunks are all there is
            Assert.True(await events.MoveNextAsync());
            Assert.Equal(" upon", Assert.IsType<DispatchPiece>(events.Current).Text);
        }, _ct); // then the caller leaves: Telegram's Stop, a client that disconnects

        // The dispatch settles before it unwinds: the worker signed a receipt for the two chunks the gateway took.
        var stored = await stack.Gateway.Services.GetRequiredService<ReceiptStore>().FindAsync(request.RequestId, payer.Value, _ct);
        Assert.NotNull(stored);
        var receipt = SignedUsageReceipt.FromJson(stored.Value.Receipt.SignedReceiptJson).Receipt;
        Assert.Equal(FinishReason.Cancelled, receipt.FinishReason);
        Assert.Equal(2, receipt.CompletionTokens);
        Assert.Equal(SteppedInference.PromptTokens, receipt.PromptTokens);
        Assert.Equal(ReceiptHashes.Response("Once upon"), receipt.ResponseSha256);
        Assert.Equal(ReceiptHashes.Request(ReceiptHashes.CanonicalRequest(request.Generation)), receipt.RequestSha256);
        Assert.Equal(session.WorkerId, receipt.WorkerId);

        var billing = stack.Gateway.Services.GetRequiredService<JobBilling>();
        var expected = billing.Split(stepped.Model.Name, receipt, 1000, request.MaxCoefficient, "local").Sum(p => p.Amount);
        Assert.True(expected > 0);
        Assert.Equal(expected, stored.Value.Receipt.ChargedNanotons);
        Assert.Equal(funds - expected, await stack.Ledger.GetBalanceAsync(payer, _ct));

        // Nobody else can read it back.
        Assert.Null(await stack.Gateway.Services.GetRequiredService<ReceiptStore>().FindAsync(request.RequestId, "apikey:someone-else", _ct));
    }

    /// <summary>Streams "Once", then " upon" when released, then waits for cancellation; reports cumulative token counts as the decode loop does.</summary>
    private sealed class SteppedInference : IInferenceService
    {
        public const int PromptTokens = 5;

        public ModelInfo Model { get; } = new("stepped-test", new string('f', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

        public int MaxConcurrency => 4;

        public SemaphoreSlim Next { get; } = new(0);

        public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            yield return new GenerationChunk("Once", null, 1, PromptTokens);
            await Next.WaitAsync(cancellationToken);
            yield return new GenerationChunk(" upon", null, 2, PromptTokens);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }
}
