/** An error a state fails with under one of Step Functions' own names (`States.ItemReaderFailed`, …), which Retry and Catch match. */
export class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}
