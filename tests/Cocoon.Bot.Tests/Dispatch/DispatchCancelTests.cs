using System.Runtime.CompilerServices;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Cocoon.Worker.Hosting;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.DependencyInjection;

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
        var endless = new EndlessInference();
        var (worker, session) = await stack.StartWorkerAsync(_ct, inference: endless);
        const long funds = 1_000_000_000;
        var payer = await stack.FundedPayerAsync(funds, _ct);
        var request = DispatchNetwork.Request(payer, "Once upon a time", 4000, model: endless.Model.Name);

        using var caller = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        var events = stack.Dispatcher.DispatchAsync(request, caller.Token).GetAsyncEnumerator(caller.Token);
        try
        {
            Assert.True(await events.MoveNextAsync());
            Assert.IsType<DispatchPiece>(events.Current);
            await caller.CancelAsync();
        }
        finally
        {
            await events.DisposeAsync();
        }

        // Without a cancel the service would generate until the job's deadline: it stops only because it was told to.
        await endless.Stopped.WaitAsync(_ct);
        var host = worker.Services.GetRequiredService<WorkerHost>();
        while (host.Running != 0)
        {
            await Task.Delay(20, _ct);
        }

        // The entry is acknowledged (never reclaimed and run again), and the caller is not charged.
        var pending = await stack.Connection.GetDatabase().StreamPendingAsync(stack.Keys.Jobs(session.WorkerId), RedisKeys.WorkerGroup);
        Assert.Equal(0, pending.PendingMessageCount);
        while (await stack.Ledger.GetBalanceAsync(payer, _ct) != funds)
        {
            await Task.Delay(20, _ct); // the hold is released as the dispatch unwinds
        }

        Assert.Contains(stack.Logs, l => l.Contains("refused: cancelled", StringComparison.Ordinal));
    }

    /// <summary>Streams one token, then waits for cancellation: the stand-in for a long answer.</summary>
    private sealed class EndlessInference : IInferenceService
    {
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ModelInfo Model { get; } = new("endless-test", new string('e', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

        public int MaxConcurrency => 4;

        public Task Stopped => _stopped.Task;

        public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            yield return new GenerationChunk("Once");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                _stopped.TrySetResult();
            }
        }
    }
}
