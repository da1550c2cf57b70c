using System.Diagnostics.Metrics;
using Cocoon.Bot.Observability;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Observability;

/// <summary>A label keeps its vocabulary, admits a bounded number of other values, and counts the rest as "other".</summary>
public sealed class BoundedLabelTests
{
    [Fact]
    public void Values_past_the_bound_are_other()
    {
        var label = new BoundedLabel(["a", "b"], maxOthers: 2);
        Assert.Equal("a", label["a"]);
        Assert.Equal("x", label["x"]);
        Assert.Equal("y", label["y"]);
        Assert.Equal("x", label["x"]);
        Assert.Equal(BoundedLabel.Other, label["z"]);
        Assert.Equal("b", label["b"]);
        Assert.Equal(BoundedLabel.Other, label[null]);
        Assert.Equal(BoundedLabel.Other, new BoundedLabel([], 8)[new string('m', 65)]);
    }

    [Fact]
    public void Api_metrics_count_an_unknown_reason_endpoint_and_status_in_bounded_values()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var metrics = new ApiMetrics(services.GetRequiredService<IMeterFactory>());
        var seen = new List<(string Instrument, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ApiMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            lock (seen)
            {
                seen.Add((instrument.Name, copy));
            }
        });
        listener.Start();

        var marker = Guid.NewGuid().ToString("N");
        metrics.Refusal("workers_busy");
        metrics.Refusal("something a client made up " + marker);
        metrics.Request("/v1/" + marker, 418);

        List<(string Instrument, Dictionary<string, object?> Tags)> mine;
        lock (seen)
        {
            mine = [.. seen];
        }

        Assert.DoesNotContain(mine, m => m.Tags.Values.Any(v => v is string s && s.Contains(marker, StringComparison.Ordinal)));
        Assert.Contains(mine, m => m.Instrument == "cocoon.api.refusals" && (string?)m.Tags["reason"] == "workers_busy");
        Assert.Contains(mine, m => m.Instrument == "cocoon.api.refusals" && (string?)m.Tags["reason"] == BoundedLabel.Other);
        Assert.Contains(mine, m => m.Instrument == "cocoon.api.requests" && (string?)m.Tags["endpoint"] == BoundedLabel.Other && (int?)m.Tags["status"] == 400);
    }
}
