using System.Text.Json;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Cocoon.Testing;
using Cocoon.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>Worker crashes, Redis restarts and poison jobs, with real worker processes and a real redis-server.</summary>
public sealed class DispatchFailoverTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task A_worker_killed_mid_stream_of_a_sampled_answer_is_resumed_by_another_and_billed_once()
    {
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        var processes = new Dictionary<string, System.Diagnostics.Process>
        {
            ["wk-a-" + Guid.NewGuid().ToString("N")[..6]] = null!,
            ["wk-b-" + Guid.NewGuid().ToString("N")[..6]] = null!,
        };
        foreach (var id in processes.Keys.ToList())
        {
            processes[id] = network.StartWorkerProcess(id);
        }

        foreach (var id in processes.Keys)
        {
            await network.WaitForWorkerAsync(id, _ct);
        }

        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        // Sampled and seeded: a re-run would not reproduce it, so only a resume can complete it. Long enough that the
        // worker is still generating when its first piece reaches us: the small model writes 60 tokens in ~15 ms, and
        // the worker gathers text into 10 ms chunks, so a short answer can end before the kill. (No repetition penalty:
        // the small model would end the answer early.)
        var request = DispatchNetwork.Request(payer, "Once upon a time", 400);
        request = request with { Generation = request.Generation with { Sampling = request.Generation.Sampling with { Temperature = 0.9f, Seed = 20261130 } } };
        var text = new System.Text.StringBuilder();
        DispatchReceipt? receipt = null;
        string? killed = null;
        var beforeKill = "";
        await foreach (var e in network.Dispatcher.DispatchAsync(request, _ct))
        {
            if (e is DispatchPiece piece)
            {
                text.Append(piece.Text);
                // A few words in: the resuming worker draws the delivered text's last token again (token healing, see
                // Cocoon.Worker/Inference/Continuation.cs), so a kill after the first token would leave it nothing to
                // pre-fill beyond the prompt.
                if (killed is null && text.Length >= 24)
                {
                    // The worker holding the job (its entry is pending in its stream) dies without a word.
                    var db = network.Connection.GetDatabase();
                    foreach (var id in processes.Keys)
                    {
                        if ((await db.StreamPendingAsync(network.Keys.Jobs(id), RedisKeys.WorkerGroup)).PendingMessageCount > 0)
                        {
                            killed = id;
                        }
                    }

                    Assert.NotNull(killed);
                    beforeKill = text.ToString();
                    processes[killed].Kill(); // SIGKILL
                }
            }
            else if (e is DispatchCompleted done)
            {
                receipt = done.Receipt;
            }
        }

        Assert.NotNull(receipt);
        var survivor = processes.Keys.Single(id => id != killed);
        Assert.Equal(survivor, receipt.WorkerId);
        Assert.True(network.Refusals.GetValueOrDefault("worker-lost") >= 1, string.Join(", ", network.Refusals));

        // One answer, resumed: what the user saw before the kill is where it goes on from.
        var answer = text.ToString();
        Assert.StartsWith(beforeKill, answer, StringComparison.Ordinal);
        Assert.NotEqual(beforeKill, answer);
        var bytes = System.Text.Encoding.UTF8.GetBytes(answer);
        Assert.NotNull(receipt.SealedRequest);
        Assert.True(receipt.Resumed);
        Assert.InRange(receipt.ResumedAfterBytes, System.Text.Encoding.UTF8.GetByteCount(beforeKill), bytes.Length - 1);

        // The receipt verifies against the caller's own bytes: the request it ran is this request with the delivered
        // text as its continuation, and the answer it covers is the part after it.
        var ran = JsonSerializer.Deserialize(receipt.SealedRequest, WireJsonContext.Default.GenerationRequest)!;
        Assert.Equal(System.Text.Encoding.UTF8.GetString(bytes, 0, receipt.ResumedAfterBytes), ran.Continuation);
        Assert.Equal(request.Generation.Prompt, ran.Prompt);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(receipt.SealedRequest)), receipt.RequestSha256);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(receipt.ResumedAfterBytes))), receipt.ResponseSha256);

        // The second worker decoded only the rest: it pre-filled the delivered text (its prompt tokens are the fresh
        // prompt's plus those), and prompt-side plus generated tokens stay within the answer's max_tokens.
        var (_, fresh) = await network.AskAsync(request with { RequestId = request.RequestId + "-fresh" }, _ct);
        var continued = receipt.PromptTokens - fresh.PromptTokens;
        Assert.True(continued > 0, $"{receipt.PromptTokens} prompt tokens resumed, {fresh.PromptTokens} fresh");
        Assert.InRange(receipt.CompletionTokens, 1, 400 - continued);

        // Billed once: the dead worker signed nothing and is paid nothing, the resumed answer once, from its receipt.
        Assert.Equal(1_000_000_000 - receipt.TotalCostNanotons - fresh.TotalCostNanotons, await network.Ledger.GetBalanceAsync(payer, _ct));
        var check = await Cocoon.Ledger.Checks.LedgerChecker.CheckAsync(network.Gateway.Services.GetRequiredService<Cocoon.Ledger.Data.LedgerDatabase>(), _ct);
        Assert.True(check.Ok, check.Summary);
    }

    [Fact]
    public async Task Redis_restarted_mid_run_with_aof_loses_no_accepted_job()
    {
        using var aof = new RedisServer(appendOnly: true);
        await using var network = new DispatchNetwork(aof);
        await network.StartAsync(_ct);
        await network.StartWorkerAsync(_ct);
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var (reference, referenceReceipt) = await network.AskAsync(DispatchNetwork.Request(payer, "The cat sat", 40), _ct);

        var firstPiece = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var asks = Enumerable.Range(0, 4).Select(async _ =>
        {
            var text = new System.Text.StringBuilder();
            DispatchReceipt? receipt = null;
            await foreach (var e in network.Dispatcher.DispatchAsync(DispatchNetwork.Request(payer, "The cat sat", 40), _ct))
            {
                if (e is DispatchPiece p)
                {
                    text.Append(p.Text);
                    firstPiece.TrySetResult();
                }
                else if (e is DispatchCompleted c)
                {
                    receipt = c.Receipt;
                }
            }

            return (Text: text.ToString(), Receipt: receipt!);
        }).ToList();

        await firstPiece.Task.WaitAsync(_ct);
        aof.Restart();
        var results = await Task.WhenAll(asks);

        Assert.All(results, r => Assert.Equal(reference, r.Text));
        // Every answer is billed exactly once: the reference ask and the four asked across the restart, no more, no less.
        var charged = referenceReceipt.TotalCostNanotons + results.Sum(r => r.Receipt.TotalCostNanotons);
        Assert.All(results, r => Assert.True(r.Receipt.TotalCostNanotons > 0));
        Assert.Equal(1_000_000_000 - charged, await network.Ledger.GetBalanceAsync(payer, _ct));
    }

    [Fact]
    public async Task Poison_jobs_go_to_the_dead_letter_stream_with_their_reason()
    {
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        var (host, session) = await network.StartWorkerAsync(_ct);
        var db = network.Connection.GetDatabase();
        var jobs = network.Gateway.Services.GetRequiredService<JobStreams>();

        // Garbage, a job sealed to some other key, and a job that keeps coming back.
        await db.StreamAddAsync(network.Keys.Jobs(session.WorkerId), JobStreams.PayloadField, "not a job"u8.ToArray());
        using var other = Cocoon.Engine.Crypto.HpkeKeyPair.Generate();
        var wrongKeyDeadline = DateTimeOffset.UtcNow.AddMinutes(1);
        var sealedToOther = Cocoon.Engine.Crypto.Hpke.Seal(other.PublicKey, JobBinding.Info("r-wrong-key", 0, session.WorkerId, session.ModelSha256, wrongKeyDeadline), JobBinding.Aad("gw-test"), "{}"u8);
        await jobs.EnqueueAsync(new JobEnvelope
        {
            RequestId = "r-wrong-key",
            Attempt = 0,
            WorkerId = session.WorkerId,
            ModelSha256 = session.ModelSha256,
            ReplyTo = "gw-test",
            RecipientKey = other.PublicKey,
            EncapsulatedKey = sealedToOther.Enc,
            Ciphertext = sealedToOther.Ciphertext,
            IssuedAt = DateTimeOffset.UtcNow,
            Deadline = wrongKeyDeadline,
        }, _ct);
        var poison = new JobEntry("0-1", JsonSerializer.SerializeToUtf8Bytes(new JobEnvelope
        {
            RequestId = "r-poison",
            Attempt = 0,
            WorkerId = session.WorkerId,
            ModelSha256 = session.ModelSha256,
            ReplyTo = "gw-test",
            RecipientKey = session.Identity.Sealing.PublicKey,
            EncapsulatedKey = new byte[32],
            Ciphertext = [1, 2, 3],
            IssuedAt = DateTimeOffset.UtcNow,
            Deadline = DateTimeOffset.UtcNow.AddMinutes(1),
        }, WireJsonContext.Default.JobEnvelope), Deliveries: 9);
        await host.Services.GetRequiredService<JobProcessor>().ProcessAsync(session, poison, _ct);

        IReadOnlyList<DeadLetter> letters = [];
        while (letters.Count < 3)
        {
            await Task.Delay(50, _ct);
            letters = await jobs.ReadDeadLettersAsync(10, _ct);
        }

        Assert.Contains(letters, l => l.Reason == "malformed" && l.RequestId is null);
        Assert.Contains(letters, l => l.Reason == "undecryptable" && l.RequestId == "r-wrong-key");
        Assert.Contains(letters, l => l.Reason == "repeatedly-failing" && l.RequestId == "r-poison");

        // The gateway named in the job hears why, so it can re-dispatch at once.
        var results = await network.Gateway.Services.GetRequiredService<ResultStreams>().ReadAsync("gw-test", "0-0", 10, TimeSpan.FromMilliseconds(10), _ct);
        Assert.Contains(results, r => r.Envelope is { RequestId: "r-wrong-key", Kind: ResultKind.Error, Error: "undecryptable" });

        // Nothing is left pending: the poison never blocks the stream.
        Assert.Equal(0, (await db.StreamPendingAsync(network.Keys.Jobs(session.WorkerId), RedisKeys.WorkerGroup)).PendingMessageCount);
    }
}
