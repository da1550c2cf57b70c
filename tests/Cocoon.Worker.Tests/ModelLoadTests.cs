using System.Collections.Concurrent;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Tests;

/// <summary>Bad model files are clear errors and the process lives (llama.cpp's own failures would abort it).</summary>
public sealed class ModelLoadTests : IDisposable
{
    private readonly TempDir _dir = new("cocoon-model-test");

    [Fact]
    public async Task AMissingFileIsAClearError()
    {
        var ex = await Assert.ThrowsAsync<FileNotFoundException>(() => LoadAsync(_dir.File("missing.gguf")));
        Assert.Contains("COCOON_MODEL", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileThatIsNotGgufIsAClearError()
    {
        await File.WriteAllTextAsync(_dir.File("notes.gguf"), "this is not a model");
        var ex = await Assert.ThrowsAsync<LlamaException>(() => LoadAsync(_dir.File("notes.gguf")));
        Assert.Contains("not a GGUF", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(100)]
    [InlineData(4096)]
    [InlineData(600_000)]
    public async Task ATruncatedGgufIsAClearError(int length)
    {
        var bytes = await File.ReadAllBytesAsync(SharedFiles.SmallModel);
        await File.WriteAllBytesAsync(_dir.File("cut.gguf"), bytes.AsSpan(0, length).ToArray());
        var ex = await Assert.ThrowsAsync<LlamaException>(() => LoadAsync(_dir.File("cut.gguf")));
        Assert.Contains("could not load", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadingCanBeCancelledFromTheProgressCallback()
    {
        using var cts = new CancellationTokenSource();
        var progress = new CancelOnReport(cts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            LlamaInferenceService.LoadAsync(LlamaFixture.Options(_dir), LlamaFixture.Loggers, TimeProvider.System, progress, cts.Token));
        Assert.True(progress.Reports > 0);
    }

    [Fact]
    public async Task LoadingReportsProgressToTheEnd()
    {
        var progress = new Recorder();
        using var service = await LlamaInferenceService.LoadAsync(LlamaFixture.Options(_dir) with { MaxConcurrency = 1 }, LlamaFixture.Loggers, TimeProvider.System, progress, CancellationToken.None);
        Assert.NotEmpty(progress.Values);
        Assert.Equal(1f, progress.Values[^1]);
        Assert.Equal(progress.Values.Order(), progress.Values);
    }

    [Fact]
    public async Task TheHostedLoadLogsTheModelFileAndItsProgressInOrder()
    {
        var lines = new ConcurrentQueue<string>();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(new LineCollector(lines)));
        using var holder = new LlamaInferenceHolder();
        var loader = new LlamaModelLoader(LlamaFixture.Options(_dir) with { MaxConcurrency = 1 }, holder, loggers, TimeProvider.System);
        await loader.StartAsync(CancellationToken.None);
        Assert.True(holder.IsLoaded);

        var loading = lines.Where(l => l.StartsWith("Loading the model", StringComparison.Ordinal)).ToList();
        Assert.Equal("Loading the model " + Path.GetFullPath(SharedFiles.SmallModel), loading[0]);
        var percents = loading.Skip(1).Select(l => int.Parse(l["Loading the model: ".Length..^1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(percents);
        Assert.Equal(100, percents[^1]);
        Assert.Equal(percents.Order().Distinct(), percents);
    }

    [Fact]
    public void QuarterStepsLogEachStepOnceAndNeverGoBack()
    {
        var lines = new ConcurrentQueue<string>();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(new LineCollector(lines)));
        var steps = new LlamaModelLoader.QuarterSteps(loggers.CreateLogger("test"));
        foreach (var value in new[] { 0f, 0.1f, 0.3f, 1f, 0f, 0.5f, 1f })
        {
            steps.Report(value);
        }

        Assert.Equal(["Loading the model: 0%", "Loading the model: 30%", "Loading the model: 100%"], lines);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Keeps every formatted log line, to read what the loader wrote.</summary>
    private sealed class LineCollector(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(formatter(state, exception));

        public void Dispose()
        {
        }
    }

    private async Task LoadAsync(string model)
    {
        using var service = await LlamaInferenceService.LoadAsync(
            LlamaFixture.Options(_dir) with { Model = model, MaxConcurrency = 1 }, LlamaFixture.Loggers, TimeProvider.System, null, CancellationToken.None);
    }

    private sealed class CancelOnReport(CancellationTokenSource cts) : IProgress<float>
    {
        public int Reports { get; private set; }

        public void Report(float value)
        {
            Reports++;
            cts.Cancel();
        }
    }

    private sealed class Recorder : IProgress<float>
    {
        public List<float> Values { get; } = [];

        public void Report(float value) => Values.Add(value);
    }
}
