/** The bootstrap page's status view: a list of steps, one readable error with a retry, and logout. */

export type StepHandle = { done(): void; fail(): void };

const steps = () => document.getElementById('steps') as HTMLOListElement;

export function startStep(label: string): StepHandle {
  const li = document.createElement('li');
  li.textContent = label;
  li.dataset.state = 'active';
  steps().append(li);
  return {
    done: () => {
      li.dataset.state = 'done';
    },
    fail: () => {
      li.dataset.state = 'failed';
    },
  };
}

/** Shows what went wrong in words a person can act on, with a retry button. */
export function showError(title: string, detail: string, retry: () => void): void {
  const box = document.getElementById('error') as HTMLDivElement;
  box.replaceChildren();
  const heading = document.createElement('strong');
  heading.textContent = title;
  const text = document.createElement('p');
  text.textContent = detail;
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Try again';
  button.addEventListener('click', () => {
    box.hidden = true;
    steps().replaceChildren();
    retry();
  });
  box.append(heading, text, button);
  box.hidden = false;
  document.documentElement.dataset.ztState = 'error';
}

/** Replaces the page's lead sentence with what the person should know now. */
export function say(text: string): void {
  const lead = document.querySelector('.lead');
  if (lead) lead.textContent = text;
}

export function setState(state: string): void {
  document.documentElement.dataset.ztState = state;
}

export function onLogout(handler: () => void): void {
  const button = document.getElementById('logout') as HTMLButtonElement;
  button.hidden = false;
  button.addEventListener('click', handler, { once: true });
}
