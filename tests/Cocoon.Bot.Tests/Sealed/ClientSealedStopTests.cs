using System.Text.Json.Nodes;
using Cocoon.Bot.Hosting;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Transport;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Sealed;

/// <summary>
/// Stopping a client-sealed job: the gateway holds no control key, only the cancel MAC the client computed from its
/// own HPKE context. When the client goes away mid-stream the gateway sends that MAC and the worker stops; a MAC that
/// is not the job's is ignored by the worker. Against a worker whose answer never ends, so the job is surely running.
/// </summary>
public sealed class ClientSealedStopTests(SealedStopFixture stack) : IClassFixture<SealedStopFixture>
{
    private static readonly NodeFolder Node = new(Path.Combine("tests", "Cocoon.Bot.Tests", "Sealed", "node"), Path.Combine("@hpke", "core"));

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    private async Task<JsonNode> StopAfterFirstChunkAsync(bool wrongMac)
    {
        var input = new JsonObject
        {
            ["base"] = stack.Gateway.BaseAddress.ToString(),
            ["apiKey"] = stack.Gateway.ApiKey,
            ["model"] = stack.Inference.Model.Name,
            ["maxTokens"] = 400,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Tell me a long story." }),
            ["stopAfterChunks"] = 1,
            ["wrongCancelMac"] = wrongMac,
        };
        var run = await Node.RunAsync("sealed-client.mjs", stdin: input.ToJsonString());
        Assert.True(run.ExitCode == 0, run.Stderr);
        var output = JsonNode.Parse(run.Stdout)!;
        Assert.True(output["stopped"]?.GetValue<bool>() == true, run.Stdout);
        Assert.StartsWith("Once upon", output["text"]!.GetValue<string>(), StringComparison.Ordinal);
        return output;
    }

    [Fact]
    public async Task A_client_that_stops_mid_stream_stops_the_worker_with_its_own_cancel_MAC_and_is_not_charged()
    {
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var before = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, _ct);
        var stopped = stack.Inference.NextStop();

        var output = await StopAfterFirstChunkAsync(wrongMac: false);
        var requestId = output["requestId"]!.GetValue<string>();

        // The endless answer ends only when the job's token is cancelled: the worker verified the client's MAC.
        await stopped.WaitAsync(_ct);
        await stack.LogLineAsync(l => l.Contains($"Request {requestId} attempt 0 refused: cancelled", StringComparison.Ordinal), _ct);
        Assert.DoesNotContain(stack.Logs.Lines, l => l.Contains(requestId, StringComparison.Ordinal) && l.Contains("ignored a cancel", StringComparison.Ordinal));

        // Nothing billed: the hold is released as the relay unwinds.
        while (await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, _ct) != before)
        {
            await Task.Delay(20, _ct);
        }
    }

    [Fact]
    public async Task A_cancel_MAC_that_is_not_the_jobs_is_ignored_by_the_worker_and_the_right_one_stops_it()
    {
        var output = await StopAfterFirstChunkAsync(wrongMac: true);
        var requestId = output["requestId"]!.GetValue<string>();
        var workerId = output["workerId"]!.GetValue<string>();

        // The gateway sent what the client gave it; the worker checked it under the job's control key and kept going.
        await stack.LogLineAsync(l => l.Contains($"Request {requestId} attempt 0: ignored a cancel whose MAC does not verify", StringComparison.Ordinal), _ct);
        Assert.DoesNotContain(stack.Logs.Lines, l => l.Contains($"Request {requestId} attempt 0 refused: cancelled", StringComparison.Ordinal));

        // The client's real MAC (which only the client could compute) stops it, sent the way the gateway sends cancels.
        var stopped = stack.Inference.NextStop();
        var cancellations = stack.Gateway.Services.GetRequiredService<JobCancellations>();
        cancellations.Cancel(workerId, requestId, 0, Convert.FromHexString(output["cancelMac"]!.GetValue<string>()));
        await stopped.WaitAsync(_ct);
        await stack.LogLineAsync(l => l.Contains($"Request {requestId} attempt 0 refused: cancelled", StringComparison.Ordinal), _ct);
    }
}
