using System.Net;
using System.Text.Json;
using Cocoon.Local.Processes;

namespace Cocoon.Local.Up;

/// <summary>Waits until the gateway's /healthz counts the attested workers up started, or says why the stack is not ready.</summary>
internal static class StackReadiness
{
    public static readonly TimeSpan Budget = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Waits until the gateway at <paramref name="url"/> answers HTTP at all (any status): its start-up, the ledger's
    /// migration included, is over. Null when it does; else why not.
    /// </summary>
    public static async Task<string?> WaitListeningAsync(string url, IReadOnlyList<ChildProcess> children, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + Budget;
        while (DateTime.UtcNow < deadline)
        {
            if (children.FirstOrDefault(c => c.HasExited) is { } dead)
            {
                return $"the {dead.Name} exited with code {dead.ExitCode} before the stack was ready (its output is above).";
            }

            try
            {
                using var response = await http.GetAsync(url.TrimEnd('/') + "/healthz", cancellationToken);
                return null;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(250, cancellationToken);
        }

        return $"the gateway at {url} did not answer within {Budget.TotalMinutes} minutes";
    }

    /// <summary>Polls /healthz until it counts <paramref name="workers"/>; returns (null, first served model) when ready, else (why not, null).</summary>
    public static async Task<(string? Problem, string? Model)> WaitAsync(string url, IReadOnlyList<ChildProcess> children, int workers, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + Budget;
        var lastReason = "the gateway is not answering yet";
        var nextNote = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (children.FirstOrDefault(c => c.HasExited) is { } dead)
            {
                return ($"the {dead.Name} exited with code {dead.ExitCode} before the stack was ready (its output is above).", null);
            }

            try
            {
                using var response = await http.GetAsync(url.TrimEnd('/') + "/healthz", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                    var models = health.RootElement.GetProperty("models");
                    var attested = health.RootElement.GetProperty("workers").GetInt32();
                    if (attested >= workers)
                    {
                        return (null, models.GetArrayLength() > 0 ? models[0].GetString() : null);
                    }

                    lastReason = $"{attested} of {workers} workers attested";
                }
                else
                {
                    lastReason = await response.Content.ReadAsStringAsync(cancellationToken);
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            if (DateTime.UtcNow > nextNote)
            {
                await Console.Out.WriteLineAsync("cocoon up: waiting for the stack: " + lastReason);
                nextNote = DateTime.UtcNow.AddSeconds(10);
            }

            await Task.Delay(250, cancellationToken);
        }

        return ($"the stack was not ready within {Budget.TotalMinutes} minutes: {lastReason}", null);
    }
}
