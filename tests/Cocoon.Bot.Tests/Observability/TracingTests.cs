using System.Collections.Concurrent;
using System.Diagnostics;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Network.Observability;

namespace Cocoon.Bot.Tests.Observability;

/// <summary>
/// One request is one trace across gateway and worker: the worker's job span is a child of the gateway's attempt
/// span, joined only through the envelope's traceparent (the worker runs its own loop, where nothing else links them),
/// and no span carries the prompt or the reply.
/// </summary>
public sealed class TracingTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    [Fact]
    public async Task The_workers_job_span_joins_the_gateways_attempt_span_and_no_span_holds_the_prompt()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        await stack.StartWorkerAsync(_ct);
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);

        var spans = new ConcurrentQueue<Activity>();
        using var root = new Activity("test-request").SetIdFormat(ActivityIdFormat.W3C).Start();
        var traceId = root.TraceId;
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is CocoonTracing.GatewaySource or CocoonTracing.WorkerSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.TraceId == traceId)
                {
                    spans.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var canary = "canary" + Guid.NewGuid().ToString("N")[..12];
        var (text, _) = await stack.AskAsync(DispatchNetwork.Request(payer, "Once upon a time " + canary, 16), _ct);
        root.Stop();

        // The worker's span ends after it sends the final chunk: wait for it rather than for time.
        while (!spans.Any(s => s.Source.Name == CocoonTracing.WorkerSource))
        {
            await Task.Delay(20, _ct);
        }

        var dispatch = Assert.Single(spans, s => s.OperationName == "cocoon.dispatch");
        var attempt = Assert.Single(spans, s => s.OperationName == "cocoon.attempt");
        var job = Assert.Single(spans, s => s.OperationName == "cocoon.job");
        Assert.Equal(root.SpanId, dispatch.ParentSpanId);
        Assert.Equal(dispatch.SpanId, attempt.ParentSpanId);
        Assert.Equal(attempt.SpanId, job.ParentSpanId);
        Assert.Equal(CocoonTracing.WorkerSource, job.Source.Name);
        Assert.Equal(ActivityKind.Consumer, job.Kind);
        Assert.Equal("completed", job.GetTagItem("cocoon.outcome"));
        Assert.Equal("completed", attempt.GetTagItem("cocoon.outcome"));
        Assert.Equal("completed", dispatch.GetTagItem("cocoon.outcome"));

        var everything = spans.SelectMany(s => s.TagObjects.Select(t => $"{t.Key}={t.Value}").Append(s.DisplayName).Append(s.StatusDescription ?? "")).ToList();
        Assert.DoesNotContain(everything, t => t.Contains(canary, StringComparison.Ordinal));
        Assert.True(text.Length > 8);
        Assert.DoesNotContain(everything, t => t.Contains(text.Trim()[..8], StringComparison.Ordinal));
    }

    [Fact]
    public void A_traceparent_that_is_not_one_is_ignored()
    {
        Assert.Equal(default, CocoonTracing.ParentOf(null));
        Assert.Equal(default, CocoonTracing.ParentOf("not a traceparent"));
        Assert.Equal(default, CocoonTracing.ParentOf("00-" + new string('0', 32) + "-" + new string('0', 16) + "-01"));
        Assert.Equal(default, CocoonTracing.ParentOf(new string('a', 4096)));
        var valid = CocoonTracing.ParentOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", valid.TraceId.ToHexString());
        Assert.True(valid.IsRemote);
    }
}
