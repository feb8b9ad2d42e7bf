// The event's live stats (/stats): players online, peak, distinct players, placements.
import { mount } from 'svelte';
import Stats from './Stats.svelte';
import './app.css';

export default mount(Stats, { target: document.getElementById('app')! });
